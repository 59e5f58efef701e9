"""Benchmarks of convcalc: medians over repeated runs, printed as a table and written as JSON.

    python benchmarks/run.py                  # the full run, a few minutes on 2 cores
    python benchmarks/run.py --quick          # a tiny run that only shows everything works
    python benchmarks/run.py --markdown       # the table as Markdown too, for the README

What is measured (issue "Benchmarks: fast enough to run on every save and every commit"):

1. start-up: whole-process ``convcalc summary resnet50 --format json`` and ``convcalc summary
   unet`` next to ``python -c "import typer, rich, pydantic, yaml"`` (the floor), as a ratio, and
   next to ``benchmarks/typer_floor.py``, a typer app with the same options and an empty body,
   and the least convcalc can add to it (``benchmarks/startup_least.py``: the warm work,
   in-process, and apart what PyYAML's import adds to a spec file's run);
2. resolution independence: ``summary unet --input 1x572x572`` vs ``--input 1x4096x4096``;
3. scaling: in-process ``load_spec`` + ``analyze`` of generated networks of 1k, 10k and 100k
   layers (chains and residual stacks), with the time per layer;
7. big networks: whole-process ``summary FILE --format json`` of a chain and a residual stack of
   10k and 100k layers: CPU time per layer (the start-up of a 20-layer run taken off), its growth
   from 10k to 100k, peak RSS, and the 10k table next to its JSON (paired ratio);
8. ``sizes resnet50 --range 1..1024`` next to one ``summary resnet50`` (paired ratio);
9. ``sweep`` of a ResNet-50 whose stage depths are params, 1,000 points in one process:
   configurations per second;
4. symbolic: whole-process ``summary resnet50 --input 3xHxW``;
5. ``convcalc check`` over 200 spec files in one process;
6. ``torchinfo.summary`` of the same models, in a fresh process and in-process, when torch and
   torchinfo are installed (``benchmarks/torch_models.py`` defines the models).

Whole-process times run the ``convcalc`` console script next to this Python, with stdout thrown
away, the commands of one group taking turns (in reversed order every other round) so that a slow
moment of the machine hits them all alike; ratios are the medians of the round-by-round ratios of
CPU times (user + system of the child), which a busy machine disturbs less than wall times. Child processes may write bytecode caches (``PYTHONDONTWRITEBYTECODE`` is dropped from their
environment), as after any ``pip install``; a warm-up run of each command fills the caches first.
Something that cannot run is recorded with its status and first error line, never as a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
TYPER_FLOOR = "benchmarks/typer_floor.py"  # paths of child processes are relative to ROOT, their cwd
STARTUP_LEAST = "benchmarks/startup_least.py"
TORCH_MODELS = "benchmarks/torch_models.py"

try:
    import convcalc
except ImportError:  # a fresh clone, not installed: use the source tree
    sys.path.insert(0, str(ROOT))
    import convcalc

from convcalc.spec.zoo import builtin_names, read_source  # noqa: E402

__all__ = ["Measurement", "chain_spec", "main", "residual_spec", "written_chain_spec"]

SCHEMA_VERSION = 1
FLOOR = "import typer, rich, pydantic, yaml"
SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (20, 200)
CHECK_FILES = 200
QUICK_CHECK_FILES = 10

# The targets, on a 2-core machine.
BIG_REPEATS = 9  # rounds of the big networks' whole processes (main: why 9)
TARGET_TYPER_RATIO = 1.10  # issue 19: summary resnet50 --format json next to benchmarks/typer_floor.py
TARGET_PER_LAYER_GROWTH = 1.2  # per-layer cost at 100k layers over that at 10k
TARGET_BIG_S = 2.0  # a 100k-layer network, the whole process, on a quiet machine
TARGET_BIG_RSS_MB = 300
TARGET_TABLE_RATIO = 2.0  # a 10k-layer table over its JSON
TARGET_SIZES_RATIO = 2.0  # sizes resnet50 --range 1..1024 over one summary resnet50
TARGET_RESOLUTION_SPREAD = 0.10
TARGET_100K_S = 1.0
TARGET_SYMBOLIC_S = 2.0
TARGET_CHECK_S = 2.0
TARGET_TORCHINFO_SPEEDUP = 15.0


@dataclass
class Measurement:
    """One line of the table. ``median_s`` is None whenever ``status`` is not ``ok``."""

    item: str
    label: str
    status: str = "ok"  # ok | failed | unsupported | missing | skipped
    median_s: Optional[float] = None
    samples: list[float] = field(default_factory=list)
    compare: str = ""  # the ratio or rate the item is about, in words
    target: str = ""
    met: Optional[bool] = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# -- the machine ------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(name: str) -> Optional[str]:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_commit() -> Optional[str]:
    try:
        done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def describe_machine() -> dict[str, Any]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": platform.platform(),
        "packages": {name: package_version(name) for name in ("convcalc", "typer", "rich", "pydantic", "PyYAML", "sympy", "torch", "torchinfo")},
        "commit": git_commit(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


# -- whole processes --------------------------------------------------------------------------
def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("CONVCALC_DEBUG", None)
    if not convcalc_command()[0].endswith("convcalc"):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
    return env


def convcalc_command() -> list[str]:
    """The console script installed next to this Python, else ``python -m convcalc``."""
    script = Path(sys.executable).parent / ("convcalc.exe" if os.name == "nt" else "convcalc")
    return [str(script)] if script.exists() else [sys.executable, "-m", "convcalc"]


def error_line(stderr: str) -> str:
    """The last non-blank line: convcalc's one-line error, or the exception of a traceback."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


@dataclass
class Run:
    """One whole process: wall time, CPU time (user + system, its own) and peak RSS in MB."""

    wall: float
    cpu: float
    rss_mb: float
    returncode: int
    stderr: str


def run_once(argv: list[str], env: dict[str, str]) -> Run:
    """On a busy machine the CPU time of the child varies less than its wall time: both are kept."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=ROOT)
        if hasattr(os, "wait4"):
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            cpu, rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
        else:  # pragma: no cover - no wait4 (Windows): wall time only
            child.wait()
            cpu, rss = float("nan"), float("nan")
        wall = time.perf_counter() - start
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    return Run(wall, cpu, rss, child.returncode, stderr)


def time_processes(commands: dict[str, list[str]], repeats: int, warmup: bool, ok_codes=(0,)) -> dict[str, tuple[list[float], str, list[Run]]]:
    """Run each command ``repeats`` times, taking turns (the order reversed every other round, so
    that neither runs first always); a command that fails is run no more.

    Returns, by label, the wall-time samples, an error line (empty when every run exited in
    ``ok_codes``) and the runs themselves (CPU time, peak memory).
    """
    env = child_env()
    runs: dict[str, list[Run]] = {label: [] for label in commands}
    errors: dict[str, str] = {label: "" for label in commands}
    for round_ in range(repeats + (1 if warmup else 0)):
        for label, argv in (list(commands.items()) if round_ % 2 == 0 else list(commands.items())[::-1]):
            if errors[label]:
                continue
            done = run_once(argv, env)
            if done.returncode not in ok_codes:
                errors[label] = f"exit {done.returncode}: {error_line(done.stderr)}"
            elif not (warmup and round_ == 0):
                runs[label].append(done)
    return {label: ([r.wall for r in runs[label]], errors[label], runs[label]) for label in commands}


def process_measurement(item: str, label: str, result: tuple, missing: str = "") -> Measurement:
    samples, error = result[:2]
    if missing:
        return Measurement(item, label, status="missing", note=missing)
    if error:
        return Measurement(item, label, status="failed", note=error)
    m = Measurement(item, label, median_s=statistics.median(samples), samples=samples)
    runs = result[2] if len(result) > 2 else []
    if runs:
        m.extra["cpu_samples"] = [r.cpu for r in runs]
        m.extra["cpu_median_s"] = statistics.median(r.cpu for r in runs)
        m.extra["peak_rss_mb"] = max(r.rss_mb for r in runs)
    return m


def paired_ratio(a: Measurement, b: Measurement, key: str = "cpu_samples") -> Optional[float]:
    """The median of the round-by-round ratios a/b (the rounds took turns, so a slow moment of the
    machine hits both), of CPU times where they were measured, else of wall times."""
    xs, ys = a.extra.get(key) or a.samples, b.extra.get(key) or b.samples
    pairs = [x / y for x, y in zip(xs, ys) if y]
    return statistics.median(pairs) if pairs else None


def shown(argv: list[str]) -> str:
    """A command as a person types it: ``convcalc ...`` or ``python ...``."""
    head = "python" if argv[0] == sys.executable else Path(argv[0]).name
    return " ".join([head, *(f'"{a}"' if " " in a else a for a in argv[1:])])


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b else None


# -- items 1, 2 and 4: start-up, resolution, symbolic -----------------------------------------
def bench_startup(repeats: int, warmup: bool, models: set[str]) -> list[Measurement]:
    cc = convcalc_command()
    commands = {
        "floor": [sys.executable, "-c", FLOOR],
        "typer": [sys.executable, TYPER_FLOOR, "summary", "resnet50", "--format", "json"],
        "resnet50": [*cc, "summary", "resnet50", "--format", "json"],
        "unet": [*cc, "summary", "unet"],
        "unet572": [*cc, "summary", "unet", "--input", "1x572x572"],
        "unet4096": [*cc, "summary", "unet", "--input", "1x4096x4096"],
    }
    needs = {"resnet50": "resnet50", "unet": "unet", "unet572": "unet", "unet4096": "unet"}
    runnable = {k: v for k, v in commands.items() if needs.get(k, "") in models or k not in needs}
    results = time_processes(runnable, repeats, warmup)
    absent = {k: f"no built-in model {needs[k]!r}" for k in commands if k not in runnable}
    out = {k: process_measurement("", shown(v), results.get(k, ([], "")), absent.get(k, "")) for k, v in commands.items()}

    floor = out["floor"]
    floor.item, floor.compare = "1 start-up", "the floor"
    typer_app = out["typer"]
    typer_app.label = f"{typer_app.label} (typer alone: same options, empty body)"
    for key in ("typer", "resnet50", "unet"):
        m = out[key]
        m.item = "1 start-up"
        r = ratio(m.median_s, floor.median_s)
        if r is not None:
            m.compare = f"{r:.2f}x floor"
            m.extra["ratio_to_floor"] = r
    resnet = out["resnet50"]
    resnet.target = f"<= {TARGET_TYPER_RATIO}x typer alone (paired, CPU time)"
    if resnet.median_s is not None and typer_app.median_s is not None:
        paired = paired_ratio(resnet, typer_app)
        resnet.extra["ratio_to_typer"] = paired
        resnet.compare += f", {paired:.2f}x typer alone"
        resnet.met = paired <= TARGET_TYPER_RATIO
    least = bench_startup_least(repeats, typer_app)

    small, large = out["unet572"], out["unet4096"]
    small.item = large.item = "2 resolution"
    r = ratio(large.median_s, small.median_s)
    large.target = f"within {TARGET_RESOLUTION_SPREAD:.0%} of 572x572"
    if r is not None:
        large.compare = f"{r:.2f}x the 572x572 run"
        large.extra["ratio_to_572"] = r
        large.met = abs(r - 1) <= TARGET_RESOLUTION_SPREAD
    return [floor, typer_app, resnet, least, out["unet"], small, large]


def bench_startup_least(repeats: int, typer_app: Measurement) -> Measurement:
    """``benchmarks/startup_least.py`` in fresh processes: the warm work of ``summary resnet50
    --format json``, the least convcalc can add to typer alone (median CPU times), as a ratio to
    typer alone's median CPU time; and what PyYAML's import would add (a spec file's run)."""
    label = "the least convcalc can add: the warm work (load, fold, rows, JSON), in-process"
    samples, env = [], child_env()
    for _ in range(max(1, repeats // 3)):
        done = subprocess.run([sys.executable, STARTUP_LEAST], capture_output=True, text=True, env=env, cwd=ROOT)
        if done.returncode != 0:
            return Measurement("1 start-up", label, status="failed", note=error_line(done.stderr))
        samples.append(json.loads(done.stdout))
    yaml_s = statistics.median(s["yaml_s"] for s in samples)
    work_s = statistics.median(s["work_s"] for s in samples)
    m = Measurement("1 start-up", label, median_s=work_s, samples=[s["work_s"] for s in samples])
    m.extra.update(yaml_s=yaml_s, work_s=work_s)
    typer_cpu = typer_app.extra.get("cpu_median_s")
    if typer_cpu:
        m.extra["ratio_to_typer"] = (typer_cpu + m.median_s) / typer_cpu
        m.compare = (f"work {1000 * work_s:.1f} ms: {m.extra['ratio_to_typer']:.2f}x typer alone, were all else free "
                     f"(a spec file's run also imports PyYAML: {1000 * yaml_s:.1f} ms)")
    return m


def bench_symbolic(repeats: int, warmup: bool, models: set[str]) -> Measurement:
    argv = [*convcalc_command(), "summary", "resnet50", "--input", "3xHxW"]
    if "resnet50" not in models:
        return Measurement("4 symbolic", shown(argv), status="missing", note="no built-in model 'resnet50'")
    m = process_measurement("4 symbolic", shown(argv), time_processes({"x": argv}, repeats, warmup)["x"])
    if m.status == "failed":
        m.status = "unsupported"
    m.target = f"<= {TARGET_SYMBOLIC_S:.0f} s"
    m.met = None if m.median_s is None else m.median_s <= TARGET_SYMBOLIC_S
    return m


# -- item 5: check over many files ------------------------------------------------------------
def has_command(name: str) -> bool:
    done = subprocess.run([*convcalc_command(), name, "--help"], capture_output=True, text=True, env=child_env(), cwd=ROOT)
    return done.returncode == 0


def write_spec_files(folder: Path, count: int) -> list[Path]:
    """``count`` spec files: the built-in models in turn, each with the expectations it ships."""
    names = builtin_names()
    paths = []
    for i in range(count):
        name = names[i % len(names)]
        path = folder / f"{i:03d}_{name}.yaml"
        path.write_text(read_source(name)[0], encoding="utf-8")
        paths.append(path)
    return paths


LIBRARY_LOOP = """
import sys
import convcalc
for path in sys.argv[1:]:
    convcalc.analyze(convcalc.load_model(path))
"""


def bench_check(repeats: int, warmup: bool, count: int) -> Measurement:
    """Exit 1 (an expectation or budget failed) is a finished run; only exit 2 is a failure."""
    with tempfile.TemporaryDirectory(prefix="convcalc-bench-") as tmp:
        files = [str(p) for p in write_spec_files(Path(tmp), count)]
        if has_command("check"):
            argv = [*convcalc_command(), "check", *files]
            label = f"convcalc check <{count} spec files>"
            note = ""
        else:
            argv = [sys.executable, "-c", LIBRARY_LOOP, *files]
            label = f"library load_spec + analyze of {count} spec files, one process"
            note = "no `check` command: the library loop over the same files stands in for it"
        result = time_processes({"x": argv}, repeats, warmup, ok_codes=(0, 1))["x"]
    m = process_measurement("5 check", label, result)
    m.note = "; ".join(filter(None, (m.note, note)))
    m.target = f"<= {TARGET_CHECK_S:.0f} s"
    m.extra["files"] = count
    m.extra["models"] = builtin_names()
    if m.median_s is not None:
        m.compare = f"{1000 * m.median_s / count:.1f} ms per file"
        m.met = m.median_s <= TARGET_CHECK_S
    return m


# -- item 3: scaling, in-process --------------------------------------------------------------
def chain_spec(layers: int) -> str:
    """A plain chain: ``repeat`` of a 3x3 'same' convolution and a ReLU, ``layers`` rows."""
    return f"""name: chain-{layers}
input: [16, 32, 32]
layers:
  - seq:
      - conv2d: {{out_channels: 16, kernel_size: 3, padding: 1}}
      - relu
    repeat: {max(1, layers // 2)}
"""


def residual_spec(layers: int) -> str:
    """A residual stack: ``repeat`` of a basic block (7 rows: 5 in the body, the add, a ReLU)."""
    return f"""name: residual-{layers}
input: [16, 32, 32]
blocks:
  basic:
    params: {{channels: ~}}
    layers:
      - residual:
          body:
            - conv2d: {{out_channels: $channels, kernel_size: 3, padding: 1, bias: false}}
            - batch_norm2d
            - relu
            - conv2d: {{out_channels: $channels, kernel_size: 3, padding: 1, bias: false}}
            - batch_norm2d
      - relu
layers:
  - basic: {{channels: 16}}
    repeat: {max(1, layers // 7)}
"""


def written_chain_spec(layers: int) -> str:
    """The chain written out, one YAML item per layer: the YAML reader's share grows too."""
    items = "".join(
        "  - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}\n" if i % 2 == 0 else "  - relu\n" for i in range(layers)
    )
    return f"name: written-chain-{layers}\ninput: [16, 32, 32]\nlayers:\n{items}"


def resnet_depths_spec() -> str:
    """ResNet-50 with its stage depths and classes as top-level params (defaults: ResNet-50's),
    for ``sweep``: a design space of ResNet-50-sized networks."""
    text, _ = read_source("resnet50")
    text = text.replace("input: [3, 224, 224]\n", "params: {depth1: 3, depth2: 4, depth3: 6, depth4: 3, classes: 1000}\ninput: [3, 224, 224]\n", 1)
    for stage, depth in (("layer1", 3), ("layer2", 4), ("layer3", 6), ("layer4", 3)):
        text = text.replace(f"    name: {stage}\n    repeat: {depth}\n", f"    name: {stage}\n    repeat: $depth{stage[-1]}\n", 1)
    text = text.replace("linear: {out_features: 1000}", "linear: {out_features: $classes}", 1)
    return text.split("\nexpect:", 1)[0] + "\n"


# the sweep: 10 x 10 x 10 points, ResNet-50 (depths 4, 6, 3 of its last stages) among them
SWEEP_GRID = ("depth2=1..10", "depth3=1..10", "depth4=1..10")
QUICK_SWEEP_GRID = ("depth2=3..4", "depth3=5..6")
TARGET_SWEEP_RATE = 500.0


FAMILIES: dict[str, Callable[[int], str]] = {
    "chain (repeat)": chain_spec,
    "residual stack (repeat of a block)": residual_spec,
    "chain written out": written_chain_spec,
}


def time_analysis(text: str, repeats: int) -> tuple[list[float], list[float], int]:
    """Samples of ``load_spec`` and of ``analyze`` on the same text, and the rows analysed."""
    import gc

    loads, analyses, rows = [], [], 0
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        spec = convcalc.load_spec(text, "<generated>")
        middle = time.perf_counter()
        report = convcalc.analyze(spec)
        end = time.perf_counter()
        loads.append(middle - start)
        analyses.append(end - middle)
        rows = len(report.rows)
        del report, spec
    return loads, analyses, rows


def bench_scaling(sizes: tuple[int, ...], repeats: int) -> list[Measurement]:
    convcalc.analyze(convcalc.load_spec(chain_spec(4)))  # first use builds pydantic validators: not part of the growth
    out = []
    for family, make in FAMILIES.items():
        first_per_layer = None
        for size in sizes:
            label = f"{family}, {size:,} layers"
            try:
                loads, analyses, rows = time_analysis(make(size), repeats)
            except convcalc.ConvcalcError as exc:
                out.append(Measurement("3 scaling", label, status="failed", note=exc.render()))
                continue
            totals = [a + b for a, b in zip(loads, analyses)]
            median = statistics.median(totals)
            per_layer = median / rows
            first_per_layer = first_per_layer or per_layer
            m = Measurement(
                "3 scaling", label, median_s=median, samples=totals,
                compare=f"{1e6 * per_layer:.1f} us/layer ({per_layer / first_per_layer:.2f}x the smallest)",
                extra={
                    "layers": rows, "load_spec_s": statistics.median(loads), "analyze_s": statistics.median(analyses),
                    "us_per_layer": 1e6 * per_layer, "growth_vs_smallest": per_layer / first_per_layer,
                },
            )
            if size == 100_000:
                m.target = f"<= {TARGET_100K_S:.0f} s"
                m.met = median <= TARGET_100K_S
            out.append(m)
    return out


# -- item 7: big networks, whole processes ----------------------------------------------------
BIG_SIZES = (10_000, 100_000)
QUICK_BIG_SIZES = (200, 2_000)


def bench_big(repeats: int, warmup: bool, sizes: tuple[int, int]) -> list[Measurement]:
    """``summary FILE --format json`` of a chain and a residual stack at two sizes, each next to
    the same command on a 20-layer network (the start-up, taken off to get the cost per layer),
    and the smaller one's table next to its JSON."""
    cc = convcalc_command()
    out = []
    with tempfile.TemporaryDirectory(prefix="convcalc-big-") as tmp:
        for family, make in (("chain", chain_spec), ("residual stack", residual_spec)):
            files = {n: Path(tmp) / f"{family.split()[0]}-{n}.yaml" for n in (20, *sizes)}
            for n, path in files.items():
                path.write_text(make(n), encoding="utf-8")
            commands = {n: [*cc, "summary", str(path), "--format", "json"] for n, path in files.items()}
            commands["table"] = [*cc, "summary", str(files[sizes[0]])]
            results = time_processes(commands, repeats, warmup)
            ms = {k: process_measurement("7 big networks", f"{family}, {k:,} layers, JSON" if k != "table" else f"{family}, {sizes[0]:,} layers, table",
                                         results[k]) for k in commands}
            start = ms[20].extra.get("cpu_median_s")
            per_layer = {}
            for n in sizes:
                m = ms[n]
                if m.status != "ok" or start is None:
                    continue
                per_layer[n] = (m.extra["cpu_median_s"] - start) / n
                m.extra["cpu_us_per_layer"] = 1e6 * per_layer[n]
                m.compare = f"{1e6 * per_layer[n]:.1f} us/layer (CPU, start-up off), {m.extra['peak_rss_mb']:.0f} MB peak"
            small, large = sizes
            if small in per_layer and large in per_layer:
                # paired: each round's growth, from that round's three runs (the 20-layer run's
                # start-up taken off both), then the median; the medians' ratio moves with
                # whichever start-up sample was the median
                rounds = zip(*(ms[k].extra["cpu_samples"] for k in (20, small, large)))
                ratios = [((big - start_r) / large) / ((mid - start_r) / small) for start_r, mid, big in rounds if mid > start_r]
                growth = statistics.median(ratios) if ratios else float("nan")  # nan: no round to tell (met is then False)
                m = ms[large]
                m.extra["per_layer_growth"] = growth
                m.compare += f", {growth:.2f}x the cost per layer at {small:,} (paired)"
                m.target = f"<= {TARGET_PER_LAYER_GROWTH}x per layer, <= {TARGET_BIG_S:.0f} s quiet, <= {TARGET_BIG_RSS_MB} MB"
                m.met = growth <= TARGET_PER_LAYER_GROWTH and m.extra["peak_rss_mb"] <= TARGET_BIG_RSS_MB and m.median_s <= TARGET_BIG_S
            table = ms["table"]
            if table.status == "ok" and ms[small].status == "ok":
                r = paired_ratio(table, ms[small])
                table.extra["ratio_to_json"] = r
                table.compare = f"{r:.2f}x its JSON (paired, CPU)"
                table.target = f"<= {TARGET_TABLE_RATIO:.0f}x its JSON"
                table.met = r <= TARGET_TABLE_RATIO
            ms[20].compare = "its start-up is taken off the larger ones"
            out += [ms[20], *(ms[n] for n in sizes), table]
    return out


# -- item 8: sizes from the rule ---------------------------------------------------------------
def bench_sizes(repeats: int, warmup: bool, models: set[str]) -> list[Measurement]:
    cc = convcalc_command()
    if "resnet50" not in models:
        return [Measurement("8 sizes", "sizes resnet50", status="missing", note="no built-in model 'resnet50'")]
    commands = {"summary": [*cc, "summary", "resnet50"], "sizes": [*cc, "sizes", "resnet50", "--range", "1..1024"]}
    results = time_processes(commands, repeats, warmup)
    summary, sizes = (process_measurement("8 sizes", shown(commands[k]), results[k]) for k in commands)
    if summary.status == sizes.status == "ok":
        r = paired_ratio(sizes, summary)
        sizes.extra["ratio_to_summary"] = r
        sizes.compare = f"{r:.2f}x one summary resnet50 (paired, CPU)"
        sizes.target = f"<= {TARGET_SIZES_RATIO:.0f}x one summary"
        sizes.met = r <= TARGET_SIZES_RATIO
    return [summary, sizes]


# -- item 9: sweep -----------------------------------------------------------------------------
def bench_sweep(repeats: int, grid: tuple[str, ...]) -> Measurement:
    """``sweep_grid`` over ResNet-50's stage depths, in this process: configurations per second."""
    from convcalc.analysis.grid import parse_grid, sweep_grid

    spec = convcalc.load_spec(resnet_depths_spec(), "resnet_depths.yaml")
    grids = [parse_grid(g) for g in grid]
    samples, points = [], []
    for _ in range(repeats):
        start = time.process_time()
        points = sweep_grid(spec, grids)
        samples.append(time.process_time() - start)
    median = statistics.median(samples)
    rate = len(points) / median
    rows = sorted(len(convcalc.analyze(spec.with_params(dict(zip([g.split("=")[0] for g in grid], v)))).rows) for v in ((1,) * len(grid), (10,) * len(grid)))
    return Measurement(
        "9 sweep", f"sweep of ResNet-50's depths ({' '.join(f'--grid {g}' for g in grid)}), {len(points):,} points, one process", median_s=median, samples=samples,
        compare=f"{rate:,.0f} configurations per second (CPU time)", target=f">= {TARGET_SWEEP_RATE:.0f} per second", met=rate >= TARGET_SWEEP_RATE,
        extra={"points": len(points), "per_second": rate, "rows_fewest_most": rows, "errors": sum(p.error is not None for p in points)},
    )


# -- item 6: torchinfo ------------------------------------------------------------------------
def torch_status() -> str:
    """Empty when torch and torchinfo import in a fresh process, else why not."""
    done = subprocess.run([sys.executable, "-c", "import torch, torchinfo"], capture_output=True, text=True, env=child_env())
    return "" if done.returncode == 0 else f"torch/torchinfo not importable: {error_line(done.stderr)}"


def convcalc_inprocess(model: str, repeats: int) -> tuple[float, int]:
    text, name = read_source(model)
    samples = []
    report = None
    for _ in range(repeats):
        start = time.perf_counter()
        report = convcalc.analyze(convcalc.load_spec(text, name))
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), report.totals.params


def bench_torchinfo(repeats: int, warmup: bool, models: set[str], startup: list[Measurement]) -> list[Measurement]:
    item = "6 torchinfo"
    reason = torch_status()
    if reason:
        return [Measurement(item, "torchinfo.summary", status="skipped", note=reason)]
    helper = TORCH_MODELS
    whole_process = {m.label: m for m in startup}
    cc = convcalc_command()
    ours = {"resnet50": shown([*cc, "summary", "resnet50", "--format", "json"]), "unet": shown([*cc, "summary", "unet"])}
    out = []
    for model in ("resnet50", "unet"):
        if model not in models:
            out.append(Measurement(item, f"torchinfo.summary({model})", status="missing", note=f"no built-in model {model!r}"))
            continue
        argv = [sys.executable, helper, "summary", model]
        fresh = process_measurement(item, f"torchinfo {model}, fresh process (import torch included)", time_processes({"x": argv}, repeats, warmup)["x"])
        mine = whole_process.get(ours[model])
        speedup = ratio(fresh.median_s, mine.median_s if mine else None)
        if speedup is not None:
            fresh.compare = f"convcalc {speedup:.1f}x faster ({ours[model]})"
            fresh.extra["convcalc_s"] = mine.median_s
            fresh.extra["convcalc_over_torchinfo"] = 1 / speedup
            fresh.extra["speedup"] = speedup
            if model == "resnet50":
                fresh.target = f"convcalc >= {TARGET_TORCHINFO_SPEEDUP:.0f}x faster"
                fresh.met = speedup >= TARGET_TORCHINFO_SPEEDUP
        out.append(fresh)
        out.append(torchinfo_inprocess(item, model, helper, repeats))
    return out


def torchinfo_inprocess(item: str, model: str, helper: str, repeats: int) -> Measurement:
    """torchinfo in its own process (torch stays out of this one), convcalc here, same model."""
    label = f"torchinfo {model}, in-process (model built, torch imported)"
    argv = [sys.executable, helper, "inprocess", model, "--repeats", str(repeats)]
    done = subprocess.run(argv, capture_output=True, text=True, env=child_env(), cwd=ROOT)
    if done.returncode != 0:
        return Measurement(item, label, status="failed", note=error_line(done.stderr))
    theirs = json.loads(done.stdout)
    mine_s, mine_params = convcalc_inprocess(model, max(repeats, 5))
    speedup = theirs["median_s"] / mine_s
    same = theirs["params"] == mine_params
    return Measurement(
        item, label, median_s=theirs["median_s"], samples=theirs["samples"],
        compare=f"convcalc {speedup:.0f}x faster (load_spec + analyze: {1000 * mine_s:.1f} ms)",
        note="" if same else f"parameter counts differ: torchinfo {theirs['params']:,}, convcalc {mine_params:,}",
        extra={"convcalc_s": mine_s, "convcalc_over_torchinfo": mine_s / theirs["median_s"], "speedup": speedup, "params_torchinfo": theirs["params"], "params_convcalc": mine_params},
    )


# -- output -----------------------------------------------------------------------------------
COLUMNS = ("item", "measurement", "median", "compared", "target", "status")


def cells(m: Measurement) -> tuple[str, ...]:
    median = "" if m.median_s is None else (f"{m.median_s:.3f} s" if m.median_s >= 0.01 else f"{1000 * m.median_s:.2f} ms")
    met = {True: "met", False: "MISSED", None: ""}[m.met]
    status = m.status if m.status != "ok" else met or "ok"
    return (m.item, m.label, median, m.compare or m.note, m.target, status)


def machine_line(machine: dict[str, Any]) -> str:
    load = machine.get("load_average")
    busy = f", load average {load[0]:.2f} at the start" if load else ""
    return f"{machine['cpu']}, {machine['usable_cores']} of {machine['cores']} cores, {machine['python']}, {machine['os']}{busy}"


def render_text(results: list[Measurement], machine: dict[str, Any]) -> str:
    rows = [COLUMNS, *(cells(m) for m in results)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = [f"machine: {machine_line(machine)}", ""]
    for n, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  {m.item} {m.label}: {m.note}" for m in results if m.note and m.compare]
    return "\n".join(lines + (["", "notes:", *notes] if notes else [])) + "\n"


def render_markdown(results: list[Measurement], machine: dict[str, Any]) -> str:
    def row(values) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    lines = [f"Measured on {machine_line(machine)} ({machine['date']}, commit {machine['commit'] or 'unknown'}).", ""]
    lines += [row(COLUMNS), row(["---"] * len(COLUMNS))]
    lines += [row(tuple(f"`{c}`" if i == 1 and c.startswith(("convcalc ", "python ")) else c for i, c in enumerate(cells(m)))) for m in results]
    return "\n".join(lines) + "\n"


def write_json(path: Path, results: list[Measurement], machine: dict[str, Any], settings: dict[str, Any]) -> None:
    data = {"schema_version": SCHEMA_VERSION, "machine": machine, "settings": settings, "results": [asdict(m) for m in results]}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# -- main -------------------------------------------------------------------------------------
def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run each, no warm-up: checks that everything runs")
    parser.add_argument("--repeats", type=int, help="runs of each whole-process command (default 15; --quick 1)")
    parser.add_argument("--inprocess-repeats", type=int, help="runs of each in-process analysis (default 5; --quick 1)")
    parser.add_argument("--torch-repeats", type=int, help="runs of each torchinfo measurement (default 5; --quick 1)")
    parser.add_argument("--no-torch", action="store_true", help="skip the torchinfo comparison")
    parser.add_argument("--output", "-o", type=Path, default=HERE / "results.json", help="JSON file to write (default benchmarks/results.json)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown too")
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 15)
    inprocess = args.inprocess_repeats or (1 if args.quick else 5)
    torch_repeats = args.torch_repeats or (1 if args.quick else 5)
    warmup = not args.quick
    sizes = QUICK_SIZES if args.quick else SIZES
    models = set(builtin_names())
    machine = describe_machine()
    settings = {
        "quick": args.quick, "repeats": repeats, "inprocess_repeats": inprocess, "torch_repeats": torch_repeats,
        "warmup": warmup, "convcalc": shown(convcalc_command()), "bytecode_cache": True,
    }

    # Whole processes first: a child's peak RSS (wait4's ru_maxrss) starts at what it shared with
    # this process when forked, and the in-process analyses of 100k layers leave this one large.
    # start-up twice the rounds (31 by default): its paired ratio moved from 1.09x to 1.19x between
    # runs of 15 rounds of the same code, minutes apart; more rounds span more of the machine's phases
    results = bench_startup(2 * repeats + 1 if not args.quick else repeats, warmup, models)
    results.append(bench_symbolic(repeats, warmup, models))
    results.append(bench_check(max(1, repeats // 3), warmup, QUICK_CHECK_FILES if args.quick else CHECK_FILES))
    # 9 rounds: the cost per layer at 10,000 is the difference of two close times (the 10,000-layer
    # run's and the 20-layer run's), which one slow round of 5 decided (1.22x in one run, 0.85x in the next)
    results += bench_big(1 if args.quick else BIG_REPEATS, warmup, QUICK_BIG_SIZES if args.quick else BIG_SIZES)
    results += bench_sizes(1 if args.quick else max(3, repeats // 3), warmup, models)
    results += bench_scaling(sizes, inprocess)
    results.append(bench_sweep(1 if args.quick else 3, QUICK_SWEEP_GRID if args.quick else SWEEP_GRID))
    if args.no_torch:
        results.append(Measurement("6 torchinfo", "torchinfo.summary", status="skipped", note="--no-torch"))
    else:
        results += bench_torchinfo(torch_repeats, warmup, models, results)
    results.sort(key=lambda m: m.item.split()[0])

    print(render_text(results, machine))
    if args.markdown:
        print(render_markdown(results, machine))
    write_json(args.output, results, machine, settings)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
