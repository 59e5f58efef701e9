"""``convcalc check FILE...``: hold every spec's ``expect:`` values and ``budget:`` entries (rules in
:mod:`convcalc.check`), report each one that fails at its place in the YAML, exit with the worst.

    convcalc check specs/*.yaml [--format human|json|github|auto] [--verbose]
                   [--baseline REPORT.json [--tolerance 1%]] [--exit-zero]

Exit codes: 0 everything held; 1 a spec is invalid or an expectation, budget or baseline failed;
2 convcalc could not do its job (a missing or unreadable file, bad usage, a malformed baseline).
``--exit-zero`` turns 1 into 0 (report, never block); 2 stays 2, since a guard that cannot read its
input must not pass.

Human output: one ``file:line:col: error[code]: ... expected X, got Y`` line per failure, the
formulas that produced Y indented below it, then one summary line per file
(``lenet5.yaml: 5 expectations, 0 budgets: all hold``). ``--verbose`` also lists each expectation
and budget that holds (``file:line:col: ok: CONV1 params = 456``).

GitHub output (``auto`` picks it when ``GITHUB_ACTIONS=true``): one workflow command per failure,
``::error file=F,line=L,col=C,title=convcalc CODE::message``, with the formulas on further lines of
the message; values escaped as GitHub's toolkit escapes them (``%`` ``\\r`` ``\\n`` everywhere, and
``:`` ``,`` in properties). Summary lines are printed as plain log lines.

JSON output (``--format json``), one object on stdout::

    {
      "schema_version": 1,
      "exit_code": 1,                       # the worst of the files' exit codes
      "files": [
        {
          "file": "lenet.yaml",             # as given, or "<name>.yaml" for a built-in model
          "status": "failed",               # "ok" | "failed" (a check failed) | "error" (not checkable)
          "exit_code": 1,                   # 0 | 1 | 2, as above
          "checked": 7,                     # expectations + budgets (+ 1 with --baseline)
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
import os
from enum import Enum
from typing import Annotated, Any, Optional

import typer

from convcalc.analysis.check import (
    FileResult,
    Verdict,
    check_file,
    load_baseline,
    parse_tolerance,
    worst_exit,
)
from convcalc.errors import EXIT_FAILED, EXIT_OK, UsageError

__all__ = [
    "SCHEMA_VERSION",
    "CheckFormat",
    "check_command",
    "escape_data",
    "escape_property",
    "render_github",
    "render_human",
    "render_json",
    "results_to_dict",
    "summary_line",
]

from convcalc.report import SCHEMA_VERSION


class CheckFormat(str, Enum):
    """How to report."""

    human = "human"
    json = "json"
    github = "github"
    auto = "auto"


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
                "checked": r.checked, "errors": [_error_dict(v) for v in r.failures],
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
    if result.error:
        return f"{result.file}: not checked ({result.error.code})"
    counts = [_plural(result.count("expect"), "expectation"), _plural(result.count("budget"), "budget")]
    if result.count("baseline"):
        counts.append("baseline")
    failed = len(result.failures)
    if not result.verdicts:
        verdict = "nothing to check (no expect: or budget:)"
    elif failed:
        verdict = f"{failed} failed"
    else:
        verdict = "all hold"
    return f"{result.file}: {', '.join(counts)}: {verdict}"


def render_human(results: list[FileResult], verbose: bool = False) -> str:
    lines = []
    for result in results:
        shown = result.verdicts if verbose and not result.error else result.failures
        for v in shown:
            lines.append(v.render())
            lines += [f"    {formula}" for formula in v.formulas if not v.ok]
        lines.append(summary_line(result))
    if len(results) > 1:
        statuses = [r.status for r in results]
        lines.append(f"{_plural(len(results), 'file')}: " + ", ".join(f"{statuses.count(s)} {s}" for s in ("ok", "failed", "error") if statuses.count(s)))
    return "\n".join(lines) + "\n"


def escape_data(text: str) -> str:
    """GitHub workflow command message escaping (actions/toolkit ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """GitHub workflow command property escaping (actions/toolkit ``escapeProperty``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(result: FileResult, v: Verdict) -> str:
    properties = [f"file={escape_property(v.pos.file if v.pos else result.file)}"]
    if v.pos:
        properties += [f"line={v.pos.line}", f"col={v.pos.col}"]
    properties.append(f"title={escape_property(f'convcalc {v.code}')}")
    return f"::error {','.join(properties)}::{escape_data(chr(10).join((v.message, *v.formulas)))}"


def render_github(results: list[FileResult]) -> str:
    lines = []
    for result in results:
        lines += [_annotation(result, v) for v in result.failures]
        lines.append(summary_line(result))
    return "\n".join(lines) + "\n"


def _pick_format(format_: CheckFormat) -> CheckFormat:
    if format_ != CheckFormat.auto:
        return format_
    return CheckFormat.github if os.environ.get("GITHUB_ACTIONS") == "true" else CheckFormat.human


def check_command(
    files: Annotated[list[str], typer.Argument(help="Spec files (or built-in model names) to check.", metavar="FILE")],
    format_: Annotated[CheckFormat, typer.Option("--format", "-f", help="human, json, github (workflow annotations), or auto: github under GitHub Actions, else human.")] = CheckFormat.auto,
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="A saved `convcalc summary SPEC --format json` report; fail on drift from it (one FILE only).", metavar="REPORT.json")] = None,
    tolerance: Annotated[Optional[str], typer.Option("--tolerance", help="Relative drift allowed against --baseline, e.g. 1% (default 0: none).", metavar="PERCENT")] = None,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even when checks fail (2 still means convcalc could not run).")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Human format: also list each expectation and budget that holds.")] = False,
) -> None:
    """Check the expect: values and budget: entries of specs; exit 0 all held, 1 failed, 2 could not run."""
    if tolerance is not None and baseline is None:
        raise UsageError("usage-tolerance", "--tolerance needs --baseline")
    if baseline is not None and len(files) != 1:
        raise UsageError("usage-baseline", f"--baseline compares one spec, got {len(files)} files")
    allowed = parse_tolerance(tolerance or "0")
    saved = load_baseline(baseline) if baseline is not None else None
    results = [check_file(target, saved, allowed) for target in files]
    chosen = _pick_format(format_)
    if chosen == CheckFormat.json:
        typer.echo(render_json(results), nl=False)
    elif chosen == CheckFormat.github:
        typer.echo(render_github(results), nl=False)
    else:
        typer.echo(render_human(results, verbose), nl=False)
    code = worst_exit(results)
    raise typer.Exit(EXIT_OK if exit_zero and code == EXIT_FAILED else code)
