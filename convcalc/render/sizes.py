"""``convcalc sizes``: the input sizes a network accepts, and why the others fail, as text, JSON,
CSV (one row per size tried) or Markdown."""

from __future__ import annotations

import json
from typing import Optional

from convcalc.analysis.sizes import ExactRule, SizeResult
from convcalc.render.fit import wrap_words
from convcalc.render.formats import Format, csv_text, markdown_table
from convcalc.render.report import format_shape
from convcalc.report import SCHEMA_VERSION

__all__ = ["COLUMNS", "FORMATS", "render_sizes"]

FORMATS = (Format.table, Format.json, Format.csv, Format.markdown)
COLUMNS = ("size", "accepted", "valid", "exact", "output_shape", "macs", "reason")
_EXAMPLES = 8  # sizes listed per reason of rejection


def _reason_key(result: SizeResult) -> tuple[bool, str]:
    """Group rejections by what failed (the network, or only exactness) and the layer at fault."""
    return result.valid, (result.reason or "").split(":", 1)[0]


def _text(name: str, low: int, high: int, any_: bool, rule: Optional[ExactRule], accepted: list[SizeResult], rejected: list[SizeResult], width: Optional[int]) -> list[str]:
    lines = [f"{name}: input sizes {low}..{high} on every spatial axis ({'valid' if any_ else 'exact'} sizes)"]
    if rule:
        lines.append(f"exact sizes: {rule}")
    lines += [f"  accepted {r.size:>6} -> {format_shape(r.output_shape)}" + ("" if r.exact else "  (valid, not exact)") for r in accepted]
    reasons: dict[str, list[SizeResult]] = {}
    for r in rejected:
        reasons.setdefault(_reason_key(r), []).append(r)
    for (valid, _), group in reasons.items():
        shown = ", ".join(str(r.size) for r in group[:_EXAMPLES]) + (", ..." if len(group) > _EXAMPLES else "")
        what = "valid, not exact" if valid else "invalid"
        lines.append(f"  rejected {len(group)} size(s) ({shown}), {what}: at {group[0].size}: {group[0].reason}")
    if not accepted:
        lines.append("  no size in this range is accepted")
    return [part for line in lines for part in wrap_words(line.lstrip(" "), width, indent=line[: len(line) - len(line.lstrip(" "))])]


def render_sizes(name: str, low: int, high: int, any_: bool, rule: Optional[ExactRule], results: list[SizeResult], format_: Format, width: Optional[int] = None) -> str:
    """``results`` are the sizes ``low..high`` tried; a size is accepted when it is exact (or,
    with ``any_``, valid). The text (table) format breaks its lines at spaces to ``width``."""
    accepted = [r for r in results if r.valid and (any_ or r.exact)]
    rejected = [r for r in results if not (r.valid and (any_ or r.exact))]
    if format_ == Format.json:
        data = {
            "schema_version": SCHEMA_VERSION, "name": name, "range": [low, high], "exact_rule": str(rule) if rule else None,
            "accepted": [{"size": r.size, "output_shape": list(r.output_shape), "exact": r.exact, "macs": r.macs} for r in accepted],
            "rejected": [{"size": r.size, "valid": r.valid, "reason": r.reason} for r in rejected],
        }
        return json.dumps(data, indent=2) + "\n"
    if format_ in (Format.csv, Format.markdown):
        taken = {r.size for r in accepted}
        rows = [
            [str(r.size), str(r.size in taken).lower(), str(r.valid).lower(), str(r.exact).lower(),
             "x".join(map(str, r.output_shape)) if r.output_shape else "", "" if r.macs is None else str(r.macs), r.reason or ""]
            for r in results
        ]
        if format_ == Format.csv:
            return csv_text(COLUMNS, rows)
        return "\n".join([f"## {name}: input sizes {low}..{high}", "", *markdown_table(COLUMNS, rows)]) + "\n"
    return "\n".join(_text(name, low, high, any_, rule, accepted, rejected, width)) + "\n"
