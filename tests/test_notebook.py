"""convcalc in Python and notebooks: Report.to_dict() is exactly the JSON document, to_json,
to_dataframe, the compact repr, the HTML and Markdown displays, and the example notebook run by
nbclient with its outputs checked."""

from __future__ import annotations

import builtins
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import convcalc  # noqa: F401  (the notebook displays register with the package)
from convcalc.analysis.check import check_paths
from convcalc.analysis.compare import compare
from convcalc.cli import app
from convcalc.spec.zoo import builtin_names
from helpers import analyze_model

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "notebook.ipynb"


@pytest.mark.parametrize("name", builtin_names())
def test_to_dict_is_the_json_document(name):
    result = CliRunner().invoke(app, ["summary", name, "--format", "json"])
    assert result.exit_code == 0, result.output
    report = analyze_model(name)
    assert report.to_dict() == json.loads(result.stdout)
    assert json.loads(report.to_json()) == json.loads(result.stdout)


def test_to_dataframe_keeps_exact_counts():
    pandas = pytest.importorskip("pandas")
    frame = analyze_model("lenet5").to_dataframe()
    assert isinstance(frame, pandas.DataFrame) and len(frame) == 13
    assert frame.loc["CONV1", "params"] == 6 * (3 * 5 * 5) + 6
    assert frame.loc["CONV1", "macs"] == 28 * 28 * 6 * (3 * 5 * 5)
    assert frame.loc["CONV1", "output_shape"] == (6, 28, 28)
    assert frame["params"].sum() == 62006


def test_to_dataframe_without_pandas_says_how_to_get_it(monkeypatch):
    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ModuleNotFoundError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ModuleNotFoundError, match=r"pip install pandas"):
        analyze_model("lenet5").to_dataframe()


def test_repr_is_compact():
    text = repr(analyze_model("resnet50"))
    assert text == "<Report ResNet-50: (3, 224, 224) -> (1000), 175 layers, params 25,557,032, MACs 4,089,184,256>"
    symbolic = repr(analyze_model("lenet5", input_shape=(3, "H", "W")))  # FC3's weights follow the input: params are a formula too
    assert symbolic.startswith("<Report LeNet-5: (3, H, W) -> (10), 13 layers, params 120*(16*floor(H/4) - 48)*(floor(W/4) - 3) + 14006, MACs 450*(H - 4)*(W - 4) + ")


def test_displays():
    report = analyze_model("lenet5")
    page = report._repr_html_()
    assert page.count('<tr class="layer"') == 13 and "352,800" in page  # CONV1: 28*28*6*75 MACs
    assert report._repr_markdown_().startswith("## LeNet-5\n")
    both = compare([("lenet5", report), ("toy39", analyze_model("toy39"))])
    assert "<th class=n>B/A</th>" in both._repr_html_() and "| params |" in both._repr_markdown_()
    assert repr(both) == "<Comparison of 2: lenet5, toy39; 0 saving(s) found>"
    assert json.loads(json.dumps(both.to_dict())) == json.loads(CliRunner().invoke(app, ["compare", "lenet5", "toy39", "-f", "json"]).stdout)
    result = check_paths([str(ROOT / "tests" / "check_specs" / "lenet5_answers.yaml")])[0]
    assert "error[check-expect]: CONV1 activations: expected 4707, got 4704" in result._repr_markdown_()
    assert "<pre>" in result._repr_html_() and repr(result).endswith(": failed, 23 checked, 1 failed>")


def test_import_convcalc_registers_the_displays():
    """A fresh interpreter: the renderers are loaded by the first use of convcalc's API."""
    code = "import convcalc; r = convcalc.analyze(convcalc.load_model('lenet5')); print(r._repr_html_() is not None)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.stdout.strip() == "True", done.stderr


def test_example_notebook_runs_and_shows_the_numbers():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [cell.get("outputs", []) for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not any(o.get("output_type") == "error" for o in cell) for cell in outputs)

    def data(cell: int, mime: str) -> str:
        return next(o["data"][mime] for o in outputs[cell] if mime in o.get("data", {}))

    table = data(0, "text/html")
    assert table.count('<tr class="layer"') == 175 and "25,557,032" in table
    assert "<Report ResNet-50: (3, 224, 224) -> (1000), 175 layers" in "".join(o.get("text", "") for o in outputs[1])
    assert data(1, "text/plain") == "(25557032, 4089184256)"
    assert data(2, "text/plain") == "(25557032, 175, [64, 112, 112])"
    top = data(3, "text/plain").splitlines()
    assert [line.split()[0] for line in top[2:5]] == ["conv1", "layer1.0.conv2", "layer1.1.conv2"]  # 118,013,952 and 115,605,504 MACs
    assert "<th class=n>B/A</th>" in data(4, "text/html") and "resnet50 @160" in data(4, "text/html")
    formula, at_32 = data(5, "text/plain").strip("()").split(",\n")
    assert formula.startswith("450*(H - 4)*(W - 4) + ") and at_32.strip() == "651720"  # LeNet-5's MACs at 32x32
