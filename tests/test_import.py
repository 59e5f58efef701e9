"""Importing models: ONNX operators and patterns, PyTorch modules and operators, and every bad input.

ONNX models here are built with ``onnx.helper`` (tiny, exact); PyTorch models are small modules
written in the test, traced on the meta device. Each bad input is one line on stderr with the
documented exit code, no traceback, and no file written.
"""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from convcalc import analyze
from onnx_files import tensor_info, tiny_model, weight

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

from convcalc.interop.onnx_import import load_onnx  # noqa: E402


def one_line_error(err: str, code: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and f"error[{code}]" in lines[0], err
    assert "Traceback" not in err


def conv_model(path, *, opset: int = 18):
    """x (1, 3, 8, 8) -> Conv 3x3 to 4 channels with bias -> Relu."""
    return tiny_model(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv"),
         helper.make_node("Relu", ["c"], ["y"], name="relu")],
        [tensor_info("x", [1, 3, 8, 8])], [tensor_info("y", [1, 4, 8, 8])], [weight("w", [4, 3, 3, 3]), weight("b", [4])], opset=opset, path=path,
    )


# -- operators ----------------------------------------------------------------------------------


def test_conv_and_its_initializers(tmp_path):
    conv_model(tmp_path / "m.onnx")
    report = analyze(load_onnx(str(tmp_path / "m.onnx")))
    conv = report.rows[0]
    assert (conv.path, conv.kind, conv.output_shape) == ("conv", "conv2d", (4, 8, 8))
    assert conv.params == 4 * (3 * 3 * 3) + 4
    assert conv.macs == 8 * 8 * 4 * (3 * 3 * 3)


def test_a_weight_read_by_two_nodes_is_counted_once(tmp_path):
    path = tmp_path / "tied.onnx"
    tiny_model(
        [helper.make_node("Conv", ["x", "w"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="first"),
         helper.make_node("Conv", ["a", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="second")],
        [tensor_info("x", [1, 3, 8, 8])], [tensor_info("y", [1, 3, 8, 8])], [weight("w", [3, 3, 3, 3])], path=path,
    )
    report = analyze(load_onnx(str(path)))
    assert report.totals.params == 3 * 3 * 3 * 3
    assert [r.params for r in report.rows] == [81, 0]
    assert "shares weights: w (81) is counted at first" in report.rows[1].notes
    assert report.totals.macs == 2 * (8 * 8 * 3 * 3 * 3 * 3)  # both convolutions compute


def test_tied_weights_are_not_written_as_a_spec(tmp_path, run_cli):
    """A spec cannot share a weight: written out, it would count it twice."""
    path = tmp_path / "tied.onnx"
    tiny_model(
        [helper.make_node("Conv", ["x", "w"], ["a"], kernel_shape=[1, 1], name="first"), helper.make_node("Conv", ["a", "w"], ["y"], kernel_shape=[1, 1], name="second")],
        [tensor_info("x", [1, 3, 4, 4])], [tensor_info("y", [1, 3, 4, 4])], [weight("w", [3, 3, 1, 1])], path=path,
    )
    written = tmp_path / "net.yaml"
    code, out, err = run_cli("import", str(path), "-o", str(written))
    assert code == 2 and not written.exists()
    one_line_error(err, "spec-write")
    assert "second share weights" in err


def test_dynamic_dims_become_symbols(tmp_path):
    path = tmp_path / "dynamic.onnx"
    tiny_model(
        [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2], name="conv")],
        [tensor_info("x", ["N", 3, "height", "width"])], [tensor_info("y", ["N", 4, None, None])], [weight("w", [4, 3, 3, 3])], path=path,
    )
    report = analyze(load_onnx(str(path)))
    assert set(report.symbols) == {"height", "width", "N"}
    at = report.subs({"height": 9, "width": 11, "N": 1})
    assert at.output_shape == (4, 4, 5)
    assert at.totals.macs == 4 * 5 * 4 * (3 * 3 * 3)


def test_shape_subgraph_is_folded(tmp_path):
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as exporters flatten: the batch kept, a flatten."""
    path = tmp_path / "flatten.onnx"
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("zero", onnx.TensorProto.INT64, [], [0])),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
        helper.make_node("Constant", [], ["minus"], value=helper.make_tensor("minus", onnx.TensorProto.INT64, [1], [-1])),
        helper.make_node("Concat", ["n1", "minus"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"], name="view"),
        helper.make_node("Gemm", ["flat", "w", "b"], ["y"], transB=1, name="fc"),
    ]
    axes = helper.make_tensor("axes", onnx.TensorProto.INT64, [1], [0])
    tiny_model(nodes, [tensor_info("x", [1, 2, 3, 4])], [tensor_info("y", [1, 5])], [axes, weight("w", [5, 24]), weight("b", [5])], path=path)
    report = analyze(load_onnx(str(path)))
    assert [(r.kind, r.output_shape) for r in report.rows] == [("flatten", (24,)), ("linear", (5,))]
    assert report.totals.params == 24 * 5 + 5


def test_same_upper_average_pool_with_and_without_counting_the_padding(tmp_path):
    """k=3, s=2 on 8: SAME_UPPER pads (0, 1); convcalc pools with padding 0 and ceil_mode, the same
    windows. Taps inside the input per axis: 3 + 3 + 3 + 2 = 11; FLOPs = C * 11 * 11."""
    for include in (0, 1):
        path = tmp_path / f"pool{include}.onnx"
        tiny_model(
            [helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER", count_include_pad=include)],
            [tensor_info("x", [1, 2, 8, 8])], [tensor_info("y", [1, 2, 4, 4])], path=path,
        )
        row = analyze(load_onnx(str(path))).rows[0]
        assert (row.kind, row.output_shape, row.flops) == ("avg_pool2d", (2, 4, 4), 2 * 11 * 11)
        assert row.args["ceil_mode"] is True


def test_patterns_silu_and_linear_bias(tmp_path):
    """x * sigmoid(x) is one SiLU; MatMul then Add of a learned vector is one linear layer."""
    path = tmp_path / "mlp.onnx"
    tiny_model(
        [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["h"]),
         helper.make_node("Sigmoid", ["h"], ["g"]), helper.make_node("Mul", ["h", "g"], ["y"])],
        [tensor_info("x", [1, 6])], [tensor_info("y", [1, 4])], [weight("w", [6, 4]), weight("b", [4])], path=path,
    )
    report = analyze(load_onnx(str(path)))
    assert [r.kind for r in report.rows] == ["linear", "silu"]
    assert report.rows[0].params == 6 * 4 + 4


def test_torchscript_names_give_the_module_paths(tmp_path):
    path = tmp_path / "named.onnx"
    tiny_model(
        [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1], name="/layer1/layer1.0/conv1/Conv"),
         helper.make_node("Relu", ["c"], ["y"], name="/layer1/layer1.0/relu/Relu")],
        [tensor_info("x", [1, 3, 4, 4])], [tensor_info("y", [1, 2, 4, 4])], [weight("w", [2, 3, 1, 1])], path=path,
    )
    graph = load_onnx(str(path))
    assert [n.path for n in graph.nodes] == ["layer1.0.conv1", "layer1.0.relu"]
    assert [g.path for g in graph.groups] == ["layer1.0", "layer1"]


def test_unknown_op_is_listed_never_counted_as_zero(tmp_path, run_cli):
    path = tmp_path / "erf.onnx"
    tiny_model(
        [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1], name="conv"), helper.make_node("Erf", ["c"], ["e"], name="erf1"),
         helper.make_node("Relu", ["e"], ["y"], name="relu")],
        [tensor_info("x", [1, 3, 4, 4])], [tensor_info("y", [1, 2, 4, 4])], [weight("w", [2, 3, 1, 1])], value_info=[tensor_info("e", [1, 2, 4, 4])], path=path,
    )
    code, out, err = run_cli("summary", str(path), "--format", "json")
    assert code == 3, err
    assert "warning[import-partial]" in err and "Erf x1 (erf1)" in err
    data = json.loads(out)
    assert data["partial"] == {"unknown_ops": {"Erf": ["erf1"]}}
    assert [d["code"] for d in data["diagnostics"]] == ["import-unknown-op"]
    assert [layer["kind"] for layer in data["layers"]] == ["conv2d", "unknown", "relu"]
    assert data["layers"][2]["output_shape"] == [2, 4, 4]  # the shape the file records carries on
    # what Erf reads is not known: said on every axis from there on, never the conv's 1x1 field
    for layer in data["layers"][1:]:
        assert [axis["size"] for axis in layer["receptive_field"]] == [None, None], layer
        assert all("Erf is an operation convcalc has no kind for" in axis["unknown"] for axis in layer["receptive_field"])
    code, out, err = run_cli("check", str(path))
    assert code == 1 and "import-unknown-op" in out, out
    written = tmp_path / "net.yaml"
    code, out, err = run_cli("import", str(path), "-o", str(written))
    assert code == 2 and not written.exists()
    one_line_error(err, "spec-write")


# -- bad input ---------------------------------------------------------------------------------


def test_truncated_onnx(tmp_path, run_cli):
    whole = tmp_path / "whole.onnx"
    conv_model(whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    code, out, err = run_cli("summary", str(cut))
    assert code == 1
    one_line_error(err, "onnx-invalid")


@pytest.mark.parametrize("content", [b"", b"name: not a model\nlayers: []\n", bytes(range(256)) * 4], ids=["empty", "yaml", "binary"])
def test_not_onnx(tmp_path, run_cli, content):
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    written = tmp_path / "net.yaml"
    code, out, err = run_cli("import", str(path), "-o", str(written))
    assert code == 1 and not written.exists()
    one_line_error(err, "onnx-invalid")


@pytest.mark.parametrize("opset", [7, 26])
def test_opset_convcalc_does_not_handle(tmp_path, run_cli, opset):
    path = tmp_path / "old.onnx"
    conv_model(path, opset=opset)
    code, out, err = run_cli("summary", str(path))
    assert code == 2
    one_line_error(err, "onnx-opset")
    assert f"opset {opset}: convcalc reads ONNX opsets 11 to 24" in err


def test_missing_onnx_file(tmp_path, run_cli):
    code, out, err = run_cli("summary", str(tmp_path / "absent.onnx"))
    assert code == 2
    one_line_error(err, "io-missing")


def test_missing_onnx_package(tmp_path, run_cli, monkeypatch):
    path = tmp_path / "m.onnx"
    conv_model(path)
    monkeypatch.setitem(sys.modules, "onnx", None)
    code, out, err = run_cli("summary", str(path))
    assert code == 2
    one_line_error(err, "import-missing-extra")
    assert "pip install 'convcalc[onnx]'" in err


# -- PyTorch -----------------------------------------------------------------------------------


MODEL = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Linear(8, 10)
        self.scale = nn.Parameter(torch.ones(8, 1, 1))

    def forward(self, x):
        x = self.features(x) * self.scale
        return self.head(x.mean([2, 3]))


def raises():
    raise RuntimeError("boom")


def not_a_module():
    return 42
'''


@pytest.fixture
def model_file(tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "net.py"
    path.write_text(textwrap.dedent(MODEL))
    return path


def test_torch_import_of_a_file(model_file, run_cli, tmp_path):
    written = tmp_path / "net.yaml"
    code, out, err = run_cli("import", f"{model_file}:Net", "--input", "3x16x16", "-o", str(written))
    assert code == 0, err
    report = analyze(__import__("convcalc").load_spec(written.read_text(), str(written)))
    assert [r.path for r in report.rows] == ["features.0", "features.1", "features.2", "mul", "mean", "head"]
    assert [r.kind for r in report.rows] == ["conv2d", "batch_norm2d", "relu", "layer_scale", "global_avg_pool", "linear"]
    assert report.totals.params == (8 * 27 + 8) + 2 * 8 + 8 + (8 * 10 + 10)
    assert report.totals.buffers == 2 * 8


def test_check_against_a_pytorch_model(model_file, run_cli, tmp_path):
    """--against FILE.py:FACTORY traces the model at the spec's input."""
    written = tmp_path / "net.yaml"
    assert run_cli("import", f"{model_file}:Net", "--input", "3x16x16", "-o", str(written))[0] == 0
    code, out, err = run_cli("check", str(written), "--against", f"{model_file}:Net")
    assert code == 0, out + err
    changed = tmp_path / "changed.yaml"
    changed.write_text(written.read_text().replace("out_features: 10", "out_features: 12"))
    code, out, err = run_cli("check", str(changed), "--against", f"{model_file}:Net")
    assert code == 1 and "layer head (linear): output shape (12) in the spec, (10) in" in out, out


def test_torch_summary_needs_an_input(model_file, run_cli):
    code, out, err = run_cli("summary", f"{model_file}:Net")
    assert code == 2
    one_line_error(err, "usage-input")


@pytest.mark.parametrize("factory, code", [("raises", "torch-factory"), ("not_a_module", "torch-factory"), ("absent", "usage-factory")])
def test_bad_factories(model_file, run_cli, tmp_path, factory, code):
    written = tmp_path / "out.yaml"
    exit_code, out, err = run_cli("import", f"{model_file}:{factory}", "--input", "3x16x16", "-o", str(written))
    assert exit_code == (2 if code.startswith("usage") else 1)
    assert not written.exists()
    one_line_error(err, code)
    if factory == "raises":
        assert "RuntimeError: boom" in err
    if factory == "not_a_module":
        assert "returned a int, not a torch.nn.Module" in err


def test_factory_file_that_does_not_import(tmp_path, run_cli):
    pytest.importorskip("torch")
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_module_anywhere\n")
    code, out, err = run_cli("import", f"{broken}:Net", "--input", "3x8x8")
    assert code == 1
    one_line_error(err, "torch-factory")


def test_missing_torch_package(model_file, run_cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    code, out, err = run_cli("import", f"{model_file}:Net", "--input", "3x16x16")
    assert code == 2
    one_line_error(err, "import-missing-extra")
    assert "pip install 'convcalc[torch]'" in err


def test_every_kind_through_the_torch_import():
    """Each kind's export case, traced back: the same params, buffers, MACs, FLOPs and output shape."""
    pytest.importorskip("torch")
    from test_export import KIND_CASES, layers_spec

    from convcalc.interop.torch_check import build
    from convcalc.interop.torch_export import export_torch
    from convcalc.interop.torch_import import graph_of_module

    failures = []
    for kind, (shape, layers) in KIND_CASES.items():
        if kind == "identity":  # a model that computes nothing: refused (import-empty)
            continue
        spec = analyze(layers_spec(shape, layers))
        export = export_torch(spec)
        got = analyze(graph_of_module(build(export.source, export.class_name), tuple(shape), name=kind, file=kind))
        for key in ("params", "buffers", "macs", "flops"):
            if getattr(got.totals, key) != getattr(spec.totals, key):
                failures.append(f"{kind}: {key} {getattr(got.totals, key)} != {getattr(spec.totals, key)}")
        if got.output_shape != spec.output_shape or any(r.kind == "unknown" for r in got.rows):
            failures.append(f"{kind}: {got.output_shape} {[r.kind for r in got.rows]}")
    assert failures == []


def test_default_export_with_batch_norm_folded(tmp_path):
    """torch.onnx.export's defaults fold each batch norm into the convolution before it: the file
    holds the convolution alone (its zero bias dropped too), named after the convolution's module."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, bias=False), torch.nn.BatchNorm2d(8), torch.nn.ReLU()).eval()
    path = tmp_path / "folded.onnx"
    torch.onnx.export(model, (torch.zeros(1, 3, 10, 10),), str(path), verbose=False)
    report = analyze(load_onnx(str(path)))
    assert [(r.path, r.kind) for r in report.rows] == [("0", "conv2d"), ("2", "relu")]
    assert report.totals.params == 8 * 3 * 3 * 3
