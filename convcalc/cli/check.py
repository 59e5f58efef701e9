"""``convcalc check FILE_OR_DIR...``: hold every spec's ``expect:`` values and ``budget:`` entries
(rules in :mod:`convcalc.analysis.check`), report each one that fails at its place in the YAML,
exit with the worst (output formats: :mod:`convcalc.render.check`).

    convcalc check specs/*.yaml [--format table|human|json|github|auto] [--verbose]
                   [--baseline REPORT.json [--tolerance 1%]] [--against MODEL] [--exit-zero] [--skip-non-specs]

Exit codes: 0 everything held; 1 a spec is invalid or an expectation, budget or baseline failed;
2 convcalc could not do its job (a missing or unreadable file, bad usage, a malformed baseline).
``--exit-zero`` turns 1 into 0 (report, never block); 2 stays 2, since a guard that cannot read its
input must not pass.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from convcalc.analysis.check import (
    check_paths,
    load_baseline,
    parse_tolerance,
    worst_exit,
)
from convcalc.cli._common import format_option, one_stdin, text_width, tracked
from convcalc.errors import EXIT_FAILED, EXIT_OK, UsageError
from convcalc.render.check import FORMATS, render_check
from convcalc.render.formats import choose_format

__all__ = ["check_command"]


def check_command(
    files: Annotated[list[str], typer.Argument(help="Spec files, directories (their *.yaml and *.yml files, recursively), - for standard input, or built-in model names.", metavar="FILE_OR_DIR...", show_default=False)],
    format_: Annotated[str, format_option(FORMATS, "table (or human), json, github (workflow annotations), or auto: github under GitHub Actions, else table.")] = "auto",
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="A saved `convcalc summary SPEC --format json` report; fail on drift from it (one FILE only).", metavar="REPORT.json")] = None,
    tolerance: Annotated[Optional[str], typer.Option("--tolerance", help="Relative drift allowed against --baseline, e.g. 1% (default 0: none).", metavar="PERCENT")] = None,
    against: Annotated[Optional[str], typer.Option("--against", help="An ONNX file or a PyTorch model (FILE.py:FACTORY, traced at the spec's input): fail on any layer whose shape, params or MACs differ (one FILE only).", metavar="MODEL")] = None,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even when checks fail (2 still means convcalc could not run).")] = False,
    skip_non_specs: Annotated[bool, typer.Option("--skip-non-specs", help="Skip, saying so, a YAML file that is plainly not a spec (as for files found in a directory).")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Table format: also list each expectation and budget that holds.")] = False,
) -> None:
    """Check the expect: values and budget: entries of specs; exit 0 all held, 1 failed, 2 could not run."""
    chosen = choose_format(format_, FORMATS, "check")
    one_stdin(files)
    if tolerance is not None and baseline is None:
        raise UsageError("usage-tolerance", "--tolerance needs --baseline")
    if baseline is not None and (len(files) != 1 or Path(files[0]).is_dir()):
        raise UsageError("usage-baseline", f"--baseline compares one spec file, got {'a directory' if len(files) == 1 else f'{len(files)} files'}")
    if against is not None and (len(files) != 1 or Path(files[0]).is_dir()):
        raise UsageError("usage-against", f"--against compares one spec file, got {'a directory' if len(files) == 1 else f'{len(files)} files'}")
    allowed = parse_tolerance(tolerance or "0")
    saved = load_baseline(baseline) if baseline is not None else None
    results = [result for target in tracked(files, "checking") for result in check_paths([target], saved, allowed, skip_non_specs, against)]
    for line in (line for result in results for line in result.warnings):
        print(line, file=sys.stderr)
    typer.echo(render_check(results, chosen, verbose, text_width()), nl=False)
    code = worst_exit(results)
    raise typer.Exit(EXIT_OK if exit_zero and code == EXIT_FAILED else code)
