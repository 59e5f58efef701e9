"""convcalc: exact shapes, parameters, MACs, FLOPs, memory and receptive fields of CNNs.

Library use, without the command line::

    import convcalc
    report = convcalc.analyze(convcalc.load_model("vgg16"))
    report.totals.params  # 138357544
"""

from __future__ import annotations

from .engine import analyze
from .errors import ConvcalcError, Position, SpecError, UsageError
from .report import Report, Row, Totals
from .spec import Spec, load_spec

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


def load_model(target: str) -> Spec:
    """Load a spec file, or a built-in model by name (``vgg16``)."""
    from .zoo import read_source

    text, shown = read_source(target)
    return load_spec(text, shown)
