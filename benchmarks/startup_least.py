"""The least that ``convcalc summary resnet50 --format json`` can add to typer alone, were every
convcalc module, class and validator free: the work itself once warm (the built-in's stored
reading, the fold, the rows and the JSON; typer, rich and pydantic are imported already, as in
``typer_floor.py``), in one process, and, apart, what importing PyYAML would add (a spec file's
run pays it; a built-in's does not). Prints ``{"yaml_s": ..., "work_s": ...}`` in CPU seconds.

    python benchmarks/startup_least.py
"""

from __future__ import annotations

import json
import statistics
import time

import pydantic.main  # noqa: F401  (what typer_floor.py has imported before convcalc's work)
import rich  # noqa: F401
import typer  # noqa: F401

clock = time.process_time
start = clock()
import yaml  # noqa: E402,F401

yaml_s = clock() - start

from convcalc.engine import analyze  # noqa: E402
from convcalc.render.report import json_chunks  # noqa: E402
from convcalc.spec.model import load_spec  # noqa: E402
from convcalc.spec.zoo import read_source  # noqa: E402

TEXT = read_source("resnet50")[0]


def work() -> float:
    start = clock()
    "".join(json_chunks(analyze(load_spec(TEXT, "resnet50.yaml"))))
    return clock() - start


for _ in range(3):  # the validators built, the kinds imported: what stays is the work
    work()
print(json.dumps({"yaml_s": yaml_s, "work_s": statistics.median(work() for _ in range(9))}))
