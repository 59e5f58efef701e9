"""``convcalc import MODEL``: an ONNX file or a PyTorch model as a spec a person can read and edit
(how it is written: :mod:`convcalc.interop.spec_writer`).

    convcalc import model.onnx -o net.yaml
    convcalc import model.py:build --input 3x224x224 -o net.yaml

The spec names the model in its description, keeps the model's row names, writes each repeated
module once as a block, and expects the output shape, parameters and MACs the model has, so that
``convcalc check net.yaml`` fails once it no longer describes the model (and ``convcalc check
net.yaml --against model.onnx`` compares it layer by layer). Nothing is written when the model
cannot be read or has an operation convcalc has no kind for (``spec-write``, exit 2).
"""

from __future__ import annotations

from typing import Annotated

import typer

from convcalc.cli._common import InputOpt, Layout, OutputOpt, load_model, parse_input, write_output
from convcalc.errors import UsageError

__all__ = ["import_command"]


def import_command(
    model: Annotated[str, typer.Argument(help="An ONNX file (model.onnx), or a PyTorch model: FILE.py:FACTORY or package.module:FACTORY (a callable returning an nn.Module; give --input).", metavar="MODEL", show_default=False)],
    input_: InputOpt = None,
    output: OutputOpt = None,
) -> None:
    """Write an ONNX file or a PyTorch model as a spec: its rows, its modules as blocks."""
    from convcalc.arith.dims import to_json_dim
    from convcalc.engine import analyze
    from convcalc.interop.onnx_import import is_onnx_path
    from convcalc.interop.spec_writer import write_spec
    from convcalc.interop.torch_import import is_factory

    if not (is_onnx_path(model) or is_factory(model)):
        raise UsageError("usage-import", f"{model!r} is neither an ONNX file (*.onnx) nor a PyTorch model (FILE.py:FACTORY or package.module:FACTORY)")
    graph = load_model(model, parse_input(input_, Layout.chw))
    report = analyze(graph)
    expect = {"output": [to_json_dim(d) for d in report.output_shape]}
    for key in ("params", "macs"):
        value = getattr(report.totals, key)
        if isinstance(value, int):
            expect[key] = value
    write_output(write_spec(graph, expect=expect), output, (model,))
