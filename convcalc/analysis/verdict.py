"""What ``convcalc check`` finds: one :class:`Verdict` per expectation, budget or comparison, one
:class:`FileResult` per file, and how a verdict writes a value (``(28, 28, 6)`` in a message, JSON in
the ``--format json`` output)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Optional

from convcalc.arith.dims import to_json_dim
from convcalc.errors import EXIT_FAILED, EXIT_OK, Position
from convcalc.report._display import Displayed

__all__ = ["LABELS", "BaselineLayer", "FileResult", "Verdict", "json_value", "text_of", "worst_exit"]

LABELS = {"params": "params", "buffers": "buffers", "macs": "MACs", "flops": "FLOPs", "activations": "activations"}

# -- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """One expectation, budget or baseline comparison, held (``ok``) or not, or a spec fault."""

    kind: str  # "expect", "budget", "baseline" or "error"
    ok: bool
    code: str
    message: str
    pos: Optional[Position] = None
    expected: Any = None  # JSON-ready: int, list, str
    actual: Any = None
    formulas: tuple[str, ...] = ()

    def render(self) -> str:
        """``path:line:col: error[code]: message``, as linters print it."""
        where = f"{self.pos}: " if self.pos else "convcalc: "
        return f"{where}error[{self.code}]: {self.message}" if not self.ok else f"{where}ok: {self.message}"


@dataclass(frozen=True)
class FileResult(Displayed):
    """Everything ``check`` found in one file; a notebook shows it as ``check`` prints it."""

    file: str
    verdicts: tuple[Verdict, ...] = ()
    error: Optional[Verdict] = None  # the file could not be checked at all
    error_exit: int = EXIT_OK
    skipped: Optional[str] = None  # why a YAML file was not checked: it is plainly not a spec
    warnings: tuple[str, ...] = ()  # ``path:line:col: warning[code]: ...`` lines: noticed, not failures

    @property
    def failures(self) -> tuple[Verdict, ...]:
        return (self.error,) if self.error else tuple(v for v in self.verdicts if not v.ok)

    @property
    def exit_code(self) -> int:
        if self.error:
            return self.error_exit
        return EXIT_FAILED if self.failures else EXIT_OK

    @property
    def status(self) -> str:
        if self.skipped:
            return "skipped"
        return "error" if self.error else ("failed" if self.failures else "ok")

    def count(self, kind: str) -> int:
        return sum(1 for v in self.verdicts if v.kind == kind)

    @property
    def checked(self) -> int:
        """Expectations + budgets, + 1 for a baseline and for a model comparison (however many
        differences they found)."""
        return self.count("expect") + self.count("budget") + (1 if self.count("baseline") else 0) + (1 if self.count("against") else 0)

    def __repr__(self) -> str:
        return f"<FileResult {self.file}: {self.status}, {self.checked} checked, {len(self.failures)} failed>"


def worst_exit(results) -> int:
    """0 all held, 1 something checked is wrong, 2 convcalc could not do its job: the largest wins."""
    return max((r.exit_code for r in results), default=EXIT_OK)


@dataclass(frozen=True)
class BaselineLayer:
    path: str
    output_shape: tuple
    params: Any
    macs: Any


def text_of(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(text_of(v) for v in value) + ")"  # as the summary table prints shapes
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    return str(value)


def json_value(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)):
        return [json_value(v) for v in value]
    if isinstance(value, BaselineLayer):
        return {"path": value.path, "output_shape": list(value.output_shape), "params": value.params, "macs": value.macs}
    return to_json_dim(value)


