"""convcalc: exact shapes, parameters, MACs, FLOPs, memory and receptive fields of CNNs.

Library use, without the command line::

    import convcalc
    report = convcalc.analyze(convcalc.load_model("vgg16"))
    report.totals.params  # 138357544
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from convcalc.errors import ConvcalcError, Position, SpecError, UsageError

if TYPE_CHECKING:
    from convcalc.engine import analyze
    from convcalc.report import Report, Row, Totals
    from convcalc.spec import Spec, load_spec

__all__ = [
    "ConvcalcError",
    "Position",
    "Report",
    "Row",
    "Spec",
    "SpecError",
    "Totals",
    "UsageError",
    "__version__",
    "analyze",
    "load_model",
    "load_spec",
]

__version__ = "0.1.0"

# Imported on first use (PEP 562), so that commands which need neither the engine nor pydantic
# (`convcalc solve`, `convcalc apply`) start as fast as Python does.
_LAZY = {
    "Report": ".report",
    "Row": ".report",
    "Spec": ".spec",
    "Totals": ".report",
    "analyze": ".engine",
    "load_spec": ".spec",
}


# How results show in a notebook: the renderers register it (convcalc.report._display), loaded
# with the first result type or function asked for here, since the report layer may not import them.
_DISPLAYS = ".render.notebook"


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    importlib.import_module(_DISPLAYS, __name__)
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def load_model(target: str) -> Spec:
    """Load a spec file, or a built-in model by name (``vgg16``)."""
    from convcalc.spec import load_spec
    from convcalc.spec.zoo import read_source

    text, shown = read_source(target)
    return load_spec(text, shown)
