"""The spec loader: safe YAML with positions and limits, block expressions, the validated top
level, the built-in models and the JSON Schema. YAML text in, a :class:`Spec` out."""

from __future__ import annotations

from convcalc.spec.model import (
    BUDGET_KEYS,
    BlockDef,
    Expect,
    Spec,
    SpecModel,
    did_you_mean,
    load_spec,
    parse_spec,
    spec_error_from_validation,
)

__all__ = [
    "BUDGET_KEYS",
    "BlockDef",
    "Expect",
    "Spec",
    "SpecModel",
    "did_you_mean",
    "load_spec",
    "parse_spec",
    "spec_error_from_validation",
]
