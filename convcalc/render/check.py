"""``convcalc check``'s results as text: one line per failure for people, GitHub workflow
annotations for CI, one JSON object for programs.

Table (``human``) output: one ``file:line:col: error[code]: ... expected X, got Y`` line per
failure, the formulas that produced Y indented below it, then one summary line per file
(``lenet5.yaml: 5 expectations, 0 budgets: all hold``). ``verbose`` also lists each expectation
and budget that holds (``file:line:col: ok: CONV1 params = 456``).

GitHub output: one workflow command per failure,
``::error file=F,line=L,col=C,title=convcalc CODE::message``, with the formulas on further lines of
the message (escaped as in :mod:`convcalc.render.github`). Summary lines are plain log lines.

JSON output, one object::

    {
      "schema_version": 1,
      "exit_code": 1,                       # the worst of the files' exit codes
      "files": [
        {
          "file": "lenet.yaml",             # as given, or "<name>.yaml" for a built-in model
          "status": "failed",               # "ok" | "failed" (a check failed) | "error" (not checkable)
                                            # | "skipped" (plainly not a spec; see "skipped")
          "exit_code": 1,                   # 0 | 1 | 2, as above
          "checked": 7,                     # expectations + budgets (+ 1 with --baseline)
          "skipped": null,                  # why it was skipped, or null
          "errors": [
            {
              "code": "check-expect",       # check-expect, check-budget, check-budget-syntax,
                                            # check-expect-syntax, check-unknown-layer,
                                            # check-baseline, or a spec-/io- code
              "message": "CONV1 activations: expected 4707, got 4704",
              "line": 10, "col": 60,        # 1-based; null when there is no position
              "expected": 4707,             # int, list (a shape), string (a budget "<= 25M",
                                            # a symbolic size), object (a baseline layer:
                                            # {path, output_shape, params, macs}), or null
              "actual": 4704,               # likewise; "global" for a global receptive field
              "formula": "activations = C*H*W = 6*28*28 = 4704"  # lines joined by "\\n", or null
            }
          ]
        }
      ]
    }
"""

from __future__ import annotations

import json
from typing import Any, Optional

from convcalc.analysis.check import FileResult, Verdict, worst_exit
from convcalc.render.fit import wrap_words
from convcalc.render.formats import Format
from convcalc.render.github import annotation
from convcalc.report import SCHEMA_VERSION

__all__ = ["FORMATS", "render_check", "render_github", "render_human", "render_json", "results_to_dict", "summary_line"]

FORMATS = (Format.table, Format.json, Format.github, Format.human, Format.auto)


def _error_dict(v: Verdict) -> dict[str, Any]:
    return {
        "code": v.code,
        "message": v.message,
        "line": v.pos.line if v.pos else None,
        "col": v.pos.col if v.pos else None,
        "expected": v.expected,
        "actual": v.actual,
        "formula": "\n".join(v.formulas) if v.formulas else None,
    }


def results_to_dict(results: list[FileResult]) -> dict[str, Any]:
    """The JSON contract documented in this module's docstring."""
    return {
        "schema_version": SCHEMA_VERSION,
        "exit_code": worst_exit(results),
        "files": [
            {
                "file": r.file, "status": r.status, "exit_code": r.exit_code,
                "checked": r.checked, "errors": [_error_dict(v) for v in r.failures], "skipped": r.skipped,
            }
            for r in results
        ],
    }


def render_json(results: list[FileResult]) -> str:
    return json.dumps(results_to_dict(results), indent=2) + "\n"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary_line(result: FileResult) -> str:
    """``lenet5.yaml: 5 expectations, 1 budget: all hold``."""
    if result.skipped:
        return f"{result.file}: skipped, not a convcalc spec: {result.skipped}"
    if result.error:
        return f"{result.file}: not checked ({result.error.code})"
    counts = [_plural(result.count("expect"), "expectation"), _plural(result.count("budget"), "budget")]
    if result.count("baseline"):
        counts.append("baseline")
    if result.count("against"):
        counts.append("a model")
    failed = len(result.failures)
    if not result.verdicts:
        verdict = "nothing to check (no expect: or budget:)"
    elif failed:
        verdict = f"{failed} failed"
    else:
        verdict = "all hold"
    return f"{result.file}: {', '.join(counts)}: {verdict}"


def render_human(results: list[FileResult], verbose: bool = False, width: Optional[int] = None) -> str:
    """One located line per failure (its formulas indented below), a summary line per file;
    with a terminal ``width``, long lines break at spaces onto indented lines (never in a number)."""
    lines = []
    for result in results:
        shown = result.verdicts if verbose and not result.error else result.failures
        for v in shown:
            lines += wrap_words(v.render(), width)
            for formula in v.formulas if not v.ok else ():
                lines += wrap_words(formula, width, indent="    ")
        lines += wrap_words(summary_line(result), width)
    if len(results) > 1:
        statuses = [r.status for r in results]
        lines.append(f"{_plural(len(results), 'file')}: " + ", ".join(f"{statuses.count(s)} {s}" for s in ("ok", "failed", "error", "skipped") if statuses.count(s)))
    return "\n".join(lines) + "\n"


def render_github(results: list[FileResult]) -> str:
    lines = []
    for result in results:
        lines += [annotation("error", "\n".join((v.message, *v.formulas)), result.file, v.pos, f"convcalc {v.code}") for v in result.failures]
        lines.append(summary_line(result))
    return "\n".join(lines) + "\n"


def render_check(results: list[FileResult], format_: Format, verbose: bool = False, width: Optional[int] = None) -> str:
    """``format_`` resolved by :func:`convcalc.render.formats.choose_format`; ``width`` wraps
    the table (human) format only."""
    if format_ == Format.json:
        return render_json(results)
    if format_ == Format.github:
        return render_github(results)
    return render_human(results, verbose, width)
