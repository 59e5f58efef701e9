"""``convcalc summary resnet50.onnx --format json`` against onnx-tool's profile of the same file and
against ``onnx.shape_inference.infer_shapes`` alone, each a whole fresh process, median of repeats.

    python benchmarks/onnx_import.py [--repeats 7] [--json results_onnx.json]

The three commands run in turn, once each per round, so that a change in the machine's load
falls on all three; each ratio is the median over the rounds of convcalc's time over the other's
in the same round (a paired ratio; below 1: convcalc is faster).

The same three, in one process with their imports done (``--in-process`` lines): the work itself,
reading the file and counting, without the start-up each tool pays.

The file is ResNet-50 (``benchmarks/torch_models.py``, torchvision's layout, random weights)
exported by ``torch.onnx.export`` with its defaults (the dynamo exporter, opset 20, the optimizer
on: batch norms folded into the convolutions, weights in an external file), as people get it.
onnx-tool (``pip install onnx-tool``) is not a dependency of convcalc: without it, its line is
``missing``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_file(folder: Path) -> Path:
    import warnings

    import torch

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from torch_models import resnet50

    warnings.filterwarnings("ignore")
    path = folder / "resnet50.onnx"
    torch.onnx.export(resnet50().eval(), (torch.zeros(1, 3, 224, 224),), str(path), verbose=False)
    return path


def run_once(command: list[str]) -> tuple[float | None, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        return None, (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1][:200]
    return elapsed, ""


INPROCESS = """
import contextlib, io, json, statistics, sys, time
import onnx, onnx_tool
from onnx import shape_inference
import convcalc
from convcalc.interop.onnx_import import load_onnx
path, repeats = sys.argv[1], int(sys.argv[2])
def ours():
    convcalc.analyze(load_onnx(path)).totals
def tool():
    with contextlib.redirect_stdout(io.StringIO()):
        onnx_tool.model_profile(path)
def infer():
    shape_inference.infer_shapes(onnx.load(path, load_external_data=False))
times = {name: [] for name in ("ours", "tool", "infer")}
for fn in (ours, tool, infer):
    fn()  # once before timing: caches, lazy imports
for _ in range(repeats):
    for name, fn in (("ours", ours), ("tool", tool), ("infer", infer)):
        start = time.perf_counter(); fn(); times[name].append(time.perf_counter() - start)
print(json.dumps(times))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="convcalc-onnx-bench-"))
    try:
        path = make_file(folder)
        commands = {  # this checkout's convcalc, under the same interpreter as the others
            "convcalc summary resnet50.onnx --format json": [sys.executable, "-m", "convcalc", "summary", str(path), "--format", "json"],
            "onnx-tool model_profile (its table, no file written)": [sys.executable, "-c", f"import onnx_tool; onnx_tool.model_profile({str(path)!r})"],
            "onnx.shape_inference.infer_shapes alone (load without weights + infer)": [
                sys.executable, "-c", f"import onnx; from onnx import shape_inference; shape_inference.infer_shapes(onnx.load({str(path)!r}, load_external_data=False))"],
        }
        active = dict(commands)
        try:
            import onnx_tool  # noqa: F401
        except ImportError:
            active = {k: v for k, v in commands.items() if "onnx_tool" not in v[-1]}
        times: dict[str, list[float]] = {label: [] for label in commands}
        errors: dict[str, str] = {}
        for _ in range(args.repeats):
            for label, command in active.items():
                if label in errors:
                    continue
                elapsed, why = run_once(command)
                if elapsed is None:
                    errors[label] = why
                else:
                    times[label].append(elapsed)
        ours_label = next(iter(commands))
        results = []
        for label in commands:
            status = "missing" if label not in active else ("failed" if label in errors else "ok")
            paired = [a / b for a, b in zip(times[ours_label], times[label])] if status == "ok" and label != ours_label else []
            results.append({
                "label": label, "status": status, "median_s": statistics.median(times[label]) if status == "ok" else None,
                "times_s": times[label], "error": errors.get(label, ""),
                "convcalc_ratio": statistics.median(paired) if paired else None,
            })
        if len(active) == len(commands):
            done = subprocess.run([sys.executable, "-c", INPROCESS, str(path), str(args.repeats)], capture_output=True, text=True)
            if done.returncode == 0:
                inner = json.loads(done.stdout.strip().splitlines()[-1])
                for key, label in (("ours", "in-process: convcalc load_onnx + analyze"), ("tool", "in-process: onnx_tool.model_profile"),
                                   ("infer", "in-process: onnx.load (no weights) + infer_shapes")):
                    paired = [a / b for a, b in zip(inner["ours"], inner[key])] if key != "ours" else []
                    results.append({"label": label, "status": "ok", "median_s": statistics.median(inner[key]), "times_s": inner[key], "error": "",
                                    "convcalc_ratio": statistics.median(paired) if paired else None})
        size = path.stat().st_size + sum(p.stat().st_size for p in folder.glob("*.data"))
        for r in results:
            ratio = f"{r['convcalc_ratio']:.2f}x" if r["convcalc_ratio"] is not None else ""
            median = f"{r['median_s']:.3f} s" if r["median_s"] is not None else r["status"]
            print(f"| {r['label']} | {median} | convcalc / this, paired: {ratio} |" if r["convcalc_ratio"] is not None else f"| {r['label']} | {median} | |")
        print(f"file: {path.name}, {size / 1e6:.1f} MB with its weights; {args.repeats} rounds, fresh processes; load average {os.getloadavg()[0]:.2f} at the end")
        if args.json:
            args.json.write_text(json.dumps({"schema_version": 1, "file_bytes": size, "repeats": args.repeats, "results": results}, indent=2) + "\n")
        return 0 if results[0]["status"] == "ok" else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
