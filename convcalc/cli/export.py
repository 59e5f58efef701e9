"""``convcalc export``: a spec as readable PyTorch source (how it is written: :mod:`convcalc.interop.torch_export`).

    convcalc export SPEC_OR_MODEL [--to torch] [-o model.py] [--input 3x224x224]

The file imports only torch; ``python model.py`` builds the model, prints its parameter count and
runs it once on a zero input. A construct that has no PyTorch translation is an error at its place
in the spec (``export-unsupported``, exit 2); nothing is left out silently.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from convcalc.cli._common import Layout, OutputOpt, SpecArg, analyze_target, write_output

__all__ = ["Target", "export_command"]


class Target(str, Enum):
    """What to export to."""

    torch = "torch"


def export_command(
    spec: SpecArg,
    to: Annotated[Target, typer.Option("--to", help="torch: a PyTorch nn.Module, one class per block of the spec.")] = Target.torch,
    output: OutputOpt = None,
    input_: Annotated[Optional[str], typer.Option("--input", "-i", help="Input shape for the totals and the test run, channels first: 3x224x224 (224x224x3 with --layout hwc).")] = None,
    layout: Annotated[Layout, typer.Option("--layout", help="How --input is written: channels first (chw, as PyTorch) or last (hwc, as textbooks).")] = Layout.chw,
) -> None:
    """Write the spec as a PyTorch module that builds and runs with PyTorch alone."""
    from convcalc.conventions import DType
    from convcalc.interop.torch_export import export_torch

    model, report = analyze_target(spec, input_, None, layout, DType.float32)
    write_output(export_torch(report).source, output, inputs=(spec,))
