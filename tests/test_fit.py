"""Tables that fit any terminal (convcalc.render.fit): no line wider than the console, every row
named, every number shown a correct rendering of its exact value; goldens at five widths.

Regenerate the goldens after a deliberate change with ``CONVCALC_UPDATE_GOLDENS=1 pytest tests/test_fit.py``.
"""

from __future__ import annotations

import io
import os
import re
from fractions import Fraction
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from convcalc.cli import app
from convcalc.render.fit import GAP, abbreviate, compact_count, fit, pretty_formula, wrap_formula
from convcalc.render.report import display_rows, format_shape, parse_columns, render_table, summary_columns
from convcalc.errors import UsageError
from helpers import analyze_model

GOLDENS = Path(__file__).parent / "goldens" / "summary"
WIDTHS = (60, 80, 100, 120, 200)
MODELS = {
    "lenet5": lambda: analyze_model("lenet5"),
    "resnet50": lambda: analyze_model("resnet50"),
    "unet": lambda: analyze_model("unet"),
    "resnet50_symbolic": lambda: analyze_model("resnet50", input_shape=(3, "H", "W")),
}
_REPORTS: dict = {}
_SCALES = {"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def report_of(name: str):
    if name not in _REPORTS:
        _REPORTS[name] = MODELS[name]()
    return _REPORTS[name]


def rendered(report, width: int, **kwargs) -> str:
    with open(os.devnull, "w") as sink:
        console = Console(width=width, record=True, color_system=None, file=sink)
        render_table(report, console, **kwargs)
    return console.export_text()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", MODELS)
def test_summary_golden(name, width):
    text = rendered(report_of(name), width)
    golden = GOLDENS / f"{name}_{width}.txt"
    if os.environ.get("CONVCALC_UPDATE_GOLDENS"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), f"{golden.name} differs; CONVCALC_UPDATE_GOLDENS=1 rewrites it"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", MODELS)
def test_a_file_gets_the_lines_rich_would_write(name, width):
    """A console without colours that does not record writes its lines itself (plain_rows: column
    by column when every cell fits, row by row when one is cut, abbreviated or broken); the same
    text as rich's own rendering, the goldens'."""
    written = io.StringIO()
    render_table(report_of(name), Console(width=width, color_system=None, file=written))
    assert written.getvalue() == rendered(report_of(name), width)


def _count_shown_is(cell: str, value: int) -> bool:
    """``cell`` is ``value`` exactly (``24,243,590,144``) or rounded in its unit (``24.24G``)."""
    if re.fullmatch(r"\d{1,3}(,\d{3})*", cell):
        return int(cell.replace(",", "")) == value
    match = re.fullmatch(r"(\d+)\.(\d\d)([KMGT])", cell)
    if not match:
        return False
    scale = _SCALES[match.group(3)]
    shown = Fraction(int(match.group(1) + match.group(2)), 100) * scale
    # rounded to the nearest hundredth of the unit, in the largest unit not above the value
    return abs(shown - value) <= Fraction(scale, 200) and scale <= value < 1000 * scale + scale // 200


def _cells(line: str, widths: tuple[int, ...]) -> list[str]:
    cells, at = [], 0
    for w in widths:
        cells.append(line[at : at + w].strip())
        at += w + GAP
    return cells


@pytest.mark.parametrize("width", (40, *WIDTHS))
@pytest.mark.parametrize("name", ["lenet5", "resnet50", "unet"])
def test_every_line_fits_every_row_is_named_every_number_is_right(name, width):
    report = report_of(name)
    lines = rendered(report, width).splitlines()
    assert max(len(line) for line in lines) <= width, max(lines, key=len)
    fitted = fit(summary_columns(report), width)
    keys = [c.key for c in fitted.columns]
    assert keys[0] == "layer"
    rows = display_rows(report)
    body = lines[4 : 4 + len(rows)]  # title, blank, header, rule
    assert len(body) == len(rows)
    for line, row in zip(body, rows):
        cells = dict(zip(keys, _cells(line, fitted.widths)))
        label = cells["layer"]
        assert label == row.label or (label.startswith("…") and row.label.endswith(label[1:])), (line, row.label)
        for key, value in (("act", row.activations), ("params", row.params), ("macs", row.macs), ("flops", row.flops)):
            if key in cells:
                assert _count_shown_is(cells[key], value), (key, cells[key], value, line)
        if "shape" in cells:
            assert cells["shape"] == format_shape(row.output_shape)
        if "kind" in cells:
            assert cells["kind"] == row.kind
        if "rf" in cells:
            assert cells["rf"] == row.rf
    total = dict(zip(keys, _cells(lines[5 + len(rows)], fitted.widths)))
    assert total["layer"] == "total"
    if "params" in total:
        assert _count_shown_is(total["params"], report.totals.params)


@pytest.mark.parametrize("width", WIDTHS)
def test_symbolic_formulas_are_broken_only_between_terms(width):
    report = report_of("resnet50_symbolic")
    lines = rendered(report, width).splitlines()
    assert max(len(line) for line in lines) <= width
    fitted = fit(summary_columns(report), width)
    for c, (column, w) in enumerate(zip(fitted.columns, fitted.widths)):
        for cell in column.texts(fitted.compact)[0]:
            pieces = fitted.cell_lines(c, cell)
            assert all(len(piece) <= w for piece in pieces)
            assert "".join(pieces).replace(" ", "") == cell.replace(" ", "") or column.label


def test_the_issue_unet_at_80_and_60_columns():
    """issue 16: `COLUMNS=80 convcalc summary unet` cut 24,243,590,144 to `24,243,590,1` and
    dropped the layer column."""
    for width in (80, 60):
        result = CliRunner().invoke(app, ["summary", "unet"], env={"COLUMNS": str(width)})
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert max(len(line) for line in lines) <= width
        assert lines[2].startswith("layer ")
        assert "24,243,590,1" not in result.stdout and "12.08G" in result.stdout  # inc's MACs 12,080,353,536
        assert f"fitted to {width} columns: counts rounded to K/M/G units" in " ".join(lines)


def test_drop_order_is_flops_then_activations_then_rf_then_kind():
    report = report_of("unet")
    seen = []
    for width in range(200, 30, -1):
        dropped = [c.key for c in fit(summary_columns(report), width).dropped]
        if dropped not in seen:
            seen.append(dropped)
    assert seen[:6] == [[], ["flops"], ["flops", "act"], ["flops", "act", "rf"], ["flops", "act", "rf", "kind"], ["flops", "act", "rf", "kind", "macs"]]


def test_wide_and_files_show_every_column_exactly(tmp_path):
    result = CliRunner().invoke(app, ["summary", "unet", "--wide"], env={"COLUMNS": "60"})
    assert "24,243,590,144" in result.stdout and "fitted" not in result.stdout
    out = tmp_path / "unet.txt"
    CliRunner().invoke(app, ["summary", "unet", "-o", str(out)], env={"COLUMNS": "60"})
    assert "24,243,590,144" in out.read_text(encoding="utf-8")


def test_columns_option_chooses_columns_and_keeps_the_layer():
    result = CliRunner().invoke(app, ["summary", "lenet5", "--columns", "macs,params"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert result.stdout.splitlines()[2].split() == ["layer", "params", "MACs"]
    bad = CliRunner().invoke(app, ["summary", "lenet5", "--columns", "macs,speed"])
    assert bad.exit_code == 2 and "error[usage-columns]: --columns 'macs,speed': no column 'speed'" in bad.stderr
    with pytest.raises(UsageError):
        parse_columns("", ("layer", "kind"))


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        (999, "999"),
        (1_000, "1.00K"),
        (12_080_353_536, "12.08G"),  # unet inc: 12,080,353,536 MACs
        (24_243_590_144, "24.24G"),
        (1_125_000, "1.12M"),  # 112.5 hundredths: half to even
        (1_135_000, "1.14M"),
        (999_995, "1.00M"),  # 999.995K would round to 1000.00K: the next unit
        (999_994, "999.99K"),
        (10**15, "1000.00T"),
    ],
)
def test_compact_count_rounds_exactly(n, shown):
    assert compact_count(n) == shown


def test_abbreviate_keeps_the_indent_and_the_end():
    assert abbreviate("    downsample", 10) == "    …ample"
    assert abbreviate("features.denseblock4.denselayer16", 16) == "…k4.denselayer16"
    assert abbreviate("conv1", 16) == "conv1"


def test_pretty_formula_and_its_breaks():
    assert pretty_formula("9408*ceiling(H/2)*floor(W/4 + 1/4)") == "9408*⌈H/2⌉*⌊W/4 + 1/4⌋"
    assert pretty_formula("floor(floor(H/2)/2) - 1") == "⌊⌊H/2⌋/2⌋ - 1"
    assert wrap_formula("14417920*⌈H/32⌉*⌈W/32⌉ + 2048000", 12) == ["14417920*", "⌈H/32⌉*", "⌈W/32⌉", "+ 2048000"]


@pytest.mark.parametrize("width", (60, 80))
@pytest.mark.parametrize(
    "args",
    [
        ("rf", "unet", "-i", "1xHxW"),
        ("rf", "resnet50"),
        ("models",),
        ("compare", "resnet18", "resnet50", "vgg16"),
        ("compare", "lenet5", "toy39", "alexnet", "vgg11", "resnet18", "unet"),
        ("summary", "resnet50", "--sweep", "H=224,512,1024"),
        ("summary", "googlenet", "--depth", "2"),
        ("explain", "resnet50", "-l", "layer1.0.*"),
        ("layer", "conv2d", "-i", "224x224x3", "-k", "7", "-s", "2", "-p", "3", "-n", "64", "--explain"),
        ("check", "tests/check_specs/vgg16_answers.yaml", "tests/bad_specs/kernel_too_large.yaml"),
        ("sizes", "unet", "--range", "500..600"),
        ("apply", "-i", "3,0,1,2,7,4;1,5,8,9,3,1;2,7,2,5,1,3;0,1,3,1,7,8;4,2,1,6,2,8;2,4,5,2,3,9", "-k", "vertical_edge", "--im2col", "--stride", "3", "--backward"),
        ("solve", "geometry", "--in", "227", "--out", "55"),
        ("summary", "resnet50", "--training"),
        ("summary", "resnet18", "--compat", "ptflops"),
        ("summary", "efficientnet", "--set", "width_mult=1.1"),
        ("sweep", "efficientnet", "-g", "width_mult=1.0,1.1", "-g", "depth_mult=1.0,1.2", "--budget", "macs<=600M"),
        ("kinds",),
    ],
    ids=lambda a: "-".join(a) if isinstance(a, tuple) else str(a),
)
def test_no_command_writes_past_the_width(args, width):
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": str(width), "NO_COLOR": "1"})
    assert result.exit_code in (0, 1), result.output
    too_long = [line for line in result.stdout.splitlines() if len(line) > width]
    assert not too_long, too_long


def test_models_is_one_line_per_model_at_80_columns():
    """issue 16: `convcalc models` ran to 656 lines."""
    from convcalc.spec.zoo import builtin_names

    result = CliRunner().invoke(app, ["models"], env={"COLUMNS": "80"})
    lines = result.stdout.splitlines()
    assert len(lines) <= len(builtin_names()) + 2 + 2  # header, rule, the note on two lines


def test_compare_splits_entries_it_cannot_fit():
    result = CliRunner().invoke(app, ["compare", "lenet5", "toy39", "alexnet", "vgg11", "resnet18", "unet"], env={"COLUMNS": "60"})
    text = result.stdout
    assert text.count("\nparams ") >= 2 and "the entries in" in text
    assert "A: lenet5" in text and "F: unet" in text
