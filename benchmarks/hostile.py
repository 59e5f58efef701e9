"""How long convcalc takes to refuse (or answer) crafted files: each one a fresh process.

    python benchmarks/hostile.py              # every case, the table, medians of 3 runs
    python benchmarks/hostile.py --quick      # one run of a few cases
    python benchmarks/hostile.py --json F     # also write the results as JSON

Each case is a spec built to make a parser or sympy work hard: alias bombs, deep nesting, huge
repeats, symbolic formulas that grow with every layer. The table gives the exit code, the error
code of the first stderr line and the wall time of ``convcalc summary FILE --format json``
(process start, imports and sympy included: ~0.4-0.6 s of every symbolic case is start-up). A
case whose exit or error code differs from the one expected is marked, and the script exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ERROR_CODE = re.compile(r"error\[([a-z0-9-]+)\]")


def _symbolic(body: str) -> str:
    return "name: hostile\ninput: [3, H, W]\nlayers:\n" + body


def _billion_laughs() -> str:
    lines = ["name: lol", "input: [3, 8, 8]", "layers: [relu]", "description:", "  - &lol0 lol"]
    lines += [f"  - &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 10) + "]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def _param_repeat(n: int, symbolic: bool = False) -> str:
    dims = "[3, H, W]" if symbolic else "[3, 8, 8]"
    return f"name: p\ninput: {dims}\nblocks:\n  b:\n    params: {{n: ~}}\n    layers:\n      - relu:\n        repeat: $n\nlayers:\n  - b: {{n: {n}}}\n"


# (name, spec text, expected exit, expected error code or None)
CASES: list[tuple[str, object, int, str | None]] = [
    ("billion laughs", _billion_laughs, 1, "limit-yaml-nodes"),
    ("100,000-deep [[[...]]]", lambda: "name: deep\ninput: [3, 8, 8]\nlayers: [relu]\ndescription: " + "[" * 100_000 + "]" * 100_000 + "\n", 1, "limit-yaml-depth"),
    ("10 MB file", lambda: "name: big\ninput: [3, 8, 8]\nlayers: [relu]\n" + "#" * 11_000_000, 1, "limit-file-size"),
    ("repeat: 10**12", lambda: "name: r\ninput: [3, 8, 8]\nlayers:\n  - relu:\n    repeat: 1000000000000\n", 1, "limit-layers"),
    ("repeat: $n = 10**12 (block param)", lambda: _param_repeat(10**12), 1, "limit-layers"),
    ("repeat: $n = 100,001 (block param)", lambda: _param_repeat(100_001), 1, "limit-layers"),
    ("upsample x2 x 100,000 (size grows)", lambda: "name: up\ninput: [1, 8, 8]\nlayers:\n  - upsample: {scale_factor: 2}\n    repeat: 100000\n", 1, "limit-int"),
    ("stride 10**5 on 1x1 x 100,000 (jump grows)", lambda: "name: j\ninput: [1, 8, 8]\nlayers:\n  - max_pool2d: {kernel_size: 1, stride: 100000}\n    repeat: 100000\n", 1, "limit-int"),
    ("symbolic: 2,001 layers", lambda: _symbolic("  - relu:\n    repeat: 2001\n"), 1, "limit-layers"),
    ("symbolic: repeat $n = 2,001", lambda: _param_repeat(2_001, symbolic=True), 1, "limit-layers"),
    ("symbolic: 'same' k3 s2 x 2000 (RF start grows)", lambda: _symbolic("  - conv2d: {out_channels: 3, kernel_size: 3, stride: 2, padding: same}\n    repeat: 2000\n"), 1, "limit-expression"),
    ("symbolic: upsample 0.7 x 2000 (nesting)", lambda: _symbolic("  - upsample: {scale_factor: 0.7}\n    repeat: 2000\n"), 1, "limit-expression"),
    ("symbolic: upsample 1.5 + ceil pool x 1000", lambda: _symbolic("  - seq:\n      - upsample: {scale_factor: 1.5}\n      - max_pool2d: {kernel_size: 2, stride: 2, ceil_mode: true}\n    repeat: 1000\n"), 1, "limit-expression"),
    ("symbolic: avg pool k3 s2 p1 x 2000 (bits)", lambda: _symbolic("  - avg_pool2d: {kernel_size: 3, stride: 2, padding: 1}\n    repeat: 2000\n"), 1, "limit-expression"),
    ("symbolic: conv_transpose + conv s3 x 1000", lambda: _symbolic("  - seq:\n      - conv_transpose2d: {out_channels: 3, kernel_size: 3, stride: 2, padding: 1, output_padding: 1}\n      - conv2d: {out_channels: 3, kernel_size: 3, stride: 3}\n    repeat: 1000\n"), 1, "limit-expression"),
    ("symbolic: max pool s2 x 100 (never valid)", lambda: _symbolic("  - max_pool2d: {kernel_size: 2, stride: 2}\n    repeat: 100\n"), 1, "shape-kernel-too-large"),
    ("symbolic: 'same' k1 s3 x 20 (answered)", lambda: _symbolic("  - conv2d: {out_channels: 3, kernel_size: 1, stride: 3, padding: same}\n    repeat: 20\n"), 0, None),
    ("symbolic: ceil pool k3 s2 p1 x 30 (answered)", lambda: _symbolic("  - max_pool2d: {kernel_size: 3, stride: 2, padding: 1, ceil_mode: true}\n    repeat: 30\n"), 0, None),
    ("symbolic: 1,999 3x3 convs (answered)", lambda: _symbolic("  - conv2d: {out_channels: 3, kernel_size: 3, padding: 1}\n    repeat: 1999\n"), 0, None),
    ("symbolic: unet --input 1xHxW (answered)", None, 0, None),
    ("pool k=10**6 x 1000 on 10**6 (answered)", lambda: "name: wide\ninput: [1, 1000000]\nlayers:\n  - avg_pool1d: {kernel_size: 1000000, stride: 1, padding: 500000}\n    repeat: 1000\n", 0, None),
]
QUICK = {"billion laughs", "repeat: 10**12", "symbolic: upsample 0.7 x 2000 (nesting)", "symbolic: 'same' k1 s3 x 20 (answered)"}


def convcalc_command() -> list[str]:
    script = Path(sys.executable).with_name("convcalc")
    return [str(script)] if script.exists() else [sys.executable, "-m", "convcalc"]


def run_case(folder: Path, name: str, make, repeats: int) -> dict:
    if make is None:
        argv = [*convcalc_command(), "summary", "unet", "--input", "1xHxW", "--format", "json"]
    else:
        path = folder / (re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") + ".yaml")
        path.write_text(make(), encoding="utf-8")
        argv = [*convcalc_command(), "summary", str(path), "--format", "json"]
    times, done = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "200"}, timeout=600)
        times.append(time.perf_counter() - start)
    first = (done.stderr.strip().splitlines() or [""])[0]
    code = ERROR_CODE.search(first)
    return {"case": name, "exit": done.returncode, "code": code.group(1) if code else None, "median_s": statistics.median(times), "first_line": first[:200]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run of a few cases")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else 3
    results, wrong = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, make, want_exit, want_code in CASES:
            if args.quick and name not in QUICK:
                continue
            r = run_case(Path(tmp), name, make, repeats)
            r["expected"] = {"exit": want_exit, "code": want_code}
            r["as_expected"] = (r["exit"], r["code"]) == (want_exit, want_code)
            wrong += not r["as_expected"]
            results.append(r)
            mark = "" if r["as_expected"] else f"   UNEXPECTED (wanted exit {want_exit}, {want_code}): {r['first_line']}"
            print(f"{r['median_s']:7.2f} s  exit {r['exit']}  {r['code'] or '-':24} {name}{mark}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"repeats": repeats, "results": results}, indent=2) + "\n", encoding="utf-8")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
