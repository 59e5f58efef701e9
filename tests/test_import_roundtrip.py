"""Round trips on every built-in model: convcalc's spec -> ``convcalc export --to torch`` ->
PyTorch (meta device) -> ``torch.export`` -> (a) convcalc's PyTorch import and (b)
``torch.onnx.export`` -> convcalc's ONNX import, each equal to the spec's report in parameters,
buffers, MACs, FLOPs and output shape, and layer by layer in output shape, parameters and MACs for
every layer with parameters; then (c) the ONNX model written back as a spec (``convcalc import -o``)
analyses to the same rows.

Each model is exported once per session (the trace and the ONNX file are shared by the tests),
the ONNX files by two worker processes; they live in a temporary directory and their weights in
sparse files of zeros.
"""

from __future__ import annotations

import json

import pytest

from convcalc import analyze, load_model, load_spec
from convcalc.spec.zoo import builtin_names

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxscript")

from convcalc.interop.onnx_import import load_onnx  # noqa: E402
from convcalc.interop.spec_writer import write_spec  # noqa: E402
from convcalc.interop.torch_check import build  # noqa: E402
from convcalc.interop.torch_export import export_torch  # noqa: E402
from convcalc.interop.torch_import import graph_of_module, trace  # noqa: E402
from onnx_files import export_onnx, export_source  # noqa: E402

NAMES = builtin_names()


class _Exports:
    """Per built-in, made on first use: the spec's report, the export, the module, its trace; the
    ONNX files are made by two worker processes from the start of the session (the export is the
    slow part, and it runs on both cores while the tests read the files already made)."""

    def __init__(self, folder):
        import concurrent.futures
        import multiprocessing

        self.folder = folder
        self.cache: dict[str, dict] = {}
        self.reports = {name: analyze(load_model(name)) for name in NAMES}
        self.exports = {name: export_torch(report) for name, report in self.reports.items()}
        self.pool = concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"))
        self.files = {
            name: self.pool.submit(export_source, export.source, export.class_name, tuple(self.reports[name].input_shape), str(folder / f"{name}.onnx"))
            for name, export in self.exports.items()
        }

    def __getitem__(self, name: str) -> dict:
        if name not in self.cache:
            report, export = self.reports[name], self.exports[name]
            model = build(export.source, export.class_name)
            source = self.folder / f"{name}.py"
            source.write_text(export.source)
            self.cache[name] = {"report": report, "export": export, "model": model, "py": source}
        return self.cache[name]

    def onnx(self, name: str) -> str:
        return self.files[name].result()

    def program(self, name: str):
        entry = self[name]
        if "program" not in entry:
            entry["program"] = trace(entry["model"], tuple(entry["report"].input_shape))
        return entry["program"]


@pytest.fixture(scope="session")
def exports(tmp_path_factory):
    made = _Exports(tmp_path_factory.mktemp("onnx"))
    yield made
    made.pool.shutdown(cancel_futures=True)


def assert_same_counts(spec, got, export, what: str) -> None:
    """Totals and output shape, then each layer with parameters, found by the module PyTorch names it."""
    for key in ("params", "buffers", "macs", "flops"):
        assert getattr(got.totals, key) == getattr(spec.totals, key), f"{what}: total {key}"
    assert got.output_shape == spec.output_shape, what
    rows = {row.path: row for row in got.rows}
    for row, module in zip(spec.rows, export.modules):
        if row.params and module is not None:
            mine = rows.get(module)
            assert mine is not None, f"{what}: no row {module} (spec row {row.path})"
            assert (mine.output_shape, mine.params, mine.macs) == (row.output_shape, row.params, row.macs), f"{what}: {module}"
    assert not [r.path for r in got.rows if r.kind == "unknown"], what


@pytest.mark.parametrize("name", NAMES)
def test_onnx_round_trip(exports, name):
    entry = exports[name]
    got = analyze(load_onnx(exports.onnx(name)))
    assert_same_counts(entry["report"], got, entry["export"], f"{name} through ONNX")


@pytest.mark.parametrize("name", NAMES)
def test_torch_round_trip(exports, name):
    entry = exports[name]
    report = entry["report"]
    got = analyze(graph_of_module(entry["model"], tuple(report.input_shape), name=name, file=str(entry["py"]), exported=exports.program(name)))
    assert_same_counts(report, got, entry["export"], f"{name} through torch.export")


def _rows(report) -> list[tuple]:
    return [(r.path, r.kind, r.input_shapes, r.output_shape, r.params, r.buffers, r.macs, r.flops) for r in report.rows]


@pytest.mark.parametrize("name", NAMES)
def test_written_spec_analyses_as_the_model(exports, name, run_cli, tmp_path):
    """``convcalc import model.onnx -o net.yaml && convcalc summary net.yaml`` is ``convcalc summary model.onnx``."""
    onnx_path = exports.onnx(name)
    written = tmp_path / "net.yaml"
    code, out, err = run_cli("import", onnx_path, "-o", str(written))
    assert code == 0, err
    code, from_spec, err = run_cli("summary", str(written), "--format", "json")
    assert code == 0, err
    code, from_model, err = run_cli("summary", onnx_path, "--format", "json")
    assert code == 0, err
    a, b = json.loads(from_spec), json.loads(from_model)
    for key in ("input_shape", "output_shape", "totals", "layers"):
        assert a[key] == b[key], f"{name}: {key}"
    code, out, err = run_cli("check", str(written), "--against", onnx_path)
    assert code == 0, out + err


def test_written_resnet50_is_short(exports):
    """Blocks, not 175 copied layers: under 200 lines."""
    text = write_spec(load_onnx(exports.onnx("resnet50")))
    assert len(text.splitlines()) < 200, text
    assert "bottleneck" in text and "blocks:" in text


def test_summary_of_onnx_file_on_the_command_line(exports, run_cli):
    """``convcalc summary model.onnx --format json``: the spec's params, MACs, output shape."""
    code, out, err = run_cli("summary", exports.onnx("resnet18"), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["totals"]["params"], data["totals"]["macs"], data["output_shape"]) == (11_689_512, 1_814_073_344, [1000])
    assert data["layers"][0]["path"] == "conv1"


@pytest.mark.parametrize("name", ["lenet5", "resnet18", "unet"])
def test_import_of_exported_file_on_the_command_line(exports, name, run_cli, tmp_path):
    """``convcalc import FILE.py:CLASS --input ...`` writes a spec with the model's counts."""
    entry = exports[name]
    report = entry["report"]
    written = tmp_path / "net.yaml"
    shape = "x".join(map(str, report.input_shape))
    code, out, err = run_cli("import", f"{entry['py']}:{entry['export'].class_name}", "--input", shape, "-o", str(written))
    assert code == 0, err
    again = analyze(load_spec(written.read_text(), str(written)))
    assert (again.totals.params, again.totals.macs, again.output_shape) == (report.totals.params, report.totals.macs, report.output_shape)


def test_check_against_catches_a_changed_channel_count(exports, run_cli, tmp_path):
    """A copy of the written spec with one convolution's channels changed fails, naming the layer."""
    onnx_path = exports.onnx("resnet18")
    written = tmp_path / "net.yaml"
    assert run_cli("import", onnx_path, "-o", str(written))[0] == 0
    text = written.read_text()
    changed = tmp_path / "changed.yaml"
    assert "{out_channels: 64, kernel_size: 7" in text
    changed.write_text(text.replace("{out_channels: 64, kernel_size: 7", "{out_channels: 32, kernel_size: 7", 1))
    code, out, err = run_cli("check", str(changed), "--against", onnx_path)
    assert code == 1, out + err
    assert "error[check-against]: layer conv1 (conv2d): output shape (32, 112, 112) in the spec, (64, 112, 112) in" in out
    assert "params 4704 in the spec, 9408 in" in out  # 32*3*7*7 against 64*3*7*7


# Kinds whose ONNX form is a pattern of several nodes, or an operator of its own: each kind's export
# case through torch.onnx and back. (Every kind goes through the PyTorch import in test_import.py.)
ONNX_KINDS = ["conv3d", "group_norm", "local_response_norm", "layer_norm", "layer_scale", "split", "chunk", "pixel_shuffle",
              "upsample", "elu", "hardswish", "silu", "scaled_dot_product_attention", "multihead_attention", "parameter"]


@pytest.mark.parametrize("kind", ONNX_KINDS)
def test_kind_through_onnx(kind, tmp_path):
    from test_export import KIND_CASES, layers_spec

    shape, layers = KIND_CASES[kind]
    spec = analyze(layers_spec(shape, layers))
    export = export_torch(spec)
    path = export_onnx(build(export.source, export.class_name), tuple(shape), tmp_path / f"{kind}.onnx")
    got = analyze(load_onnx(str(path)))
    assert [r.path for r in got.rows if r.kind == "unknown"] == []
    for key in ("params", "buffers", "macs", "flops"):
        assert getattr(got.totals, key) == getattr(spec.totals, key), key
    assert got.output_shape == spec.output_shape
