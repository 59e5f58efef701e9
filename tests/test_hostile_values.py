"""Nothing wrong: values YAML 1.1 reads differently from what was meant, values no size or
scale can take, and command-line input that contradicts itself, each refused where it is (the
spec files are in tests/bad_specs/); floats written as YAML 1.2 and JSON write them accepted."""

from __future__ import annotations

import pytest

import convcalc
from convcalc.errors import SpecError

from helpers import analyze_text

pytestmark = pytest.mark.usefixtures("yaml_parser")


@pytest.mark.parametrize("text", ["3e-5", "3E-5", "1.0e5", "2e+3", ".5e-3", "-1.5E2"])
def test_floats_with_an_exponent_are_numbers(text):
    """YAML 1.1 reads ``3e-5`` (no dot, or an unsigned exponent) as a string; YAML 1.2 and JSON as a float."""
    report = analyze_text(f"name: t\ninput: [4, 8, 8]\nlayers:\n  - batch_norm2d: {{eps: {text}}}\n")
    assert report.rows[0].args["eps"] == float(text)


def test_a_quoted_exponent_stays_text():
    with pytest.raises(SpecError) as info:
        analyze_text("name: t\ninput: [4, 8, 8]\nlayers:\n  - batch_norm2d: {eps: '1e-5'}\n")
    assert info.value.code == "spec-type" and "the string '1e-5'" in info.value.message


def test_an_exponent_where_an_integer_goes_is_refused():
    with pytest.raises(SpecError) as info:
        analyze_text("name: t\ninput: [4, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 3e0}\n")
    assert info.value.code == "spec-type" and (info.value.pos.line, info.value.pos.col) == (4, 44)


@pytest.mark.parametrize(("text", "code"), [("010", "yaml-octal"), ("0_10", "yaml-octal"), ("07", "yaml-octal"), ("1:0", "yaml-base60"), ("1:30.5", "yaml-base60")])
def test_yaml_11_numbers_are_refused_where_they_are(text, code):
    with pytest.raises(SpecError) as info:
        analyze_text(f"name: t\ninput: [4, 8, 8]\nlayers:\n  - upsample: {{scale_factor: {text}}}\n")
    assert info.value.code == code and (info.value.pos.line, info.value.pos.col) == (4, 30)


@pytest.mark.parametrize("text", ["'010'", '"1:0"', "0x10", "0", "-0", "10"])
def test_unambiguous_forms_read_as_written(text):
    """Quoted text stays text (here a name); hex and plain decimals are numbers."""
    spec = convcalc.load_spec(f"name: {text}\ninput: [4, 8, 8]\nlayers: [relu]\n", "t.yaml") if text.startswith(("'", '"')) else None
    if spec is not None:
        assert spec.name == text.strip("'\"")
    else:
        data, _ = __import__("convcalc.spec._yaml", fromlist=["load_yaml"]).load_yaml(f"n: {text}\n", "t.yaml")
        assert data["n"] == int(text, 0)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_nan_and_inf_are_refused_on_every_path(run_cli, value):
    """The YAML loader refuses ``.nan`` and ``.inf``; an inline layer (no YAML) meets the kinds' own check."""
    code, out, err = run_cli("compare", f"upsample:scale_factor={value}@1x8", "upsample:scale_factor=2@1x8")
    assert code == 1, out + err
    assert "a finite number" in err and len(err.strip().splitlines()) == 1


def test_a_symbol_given_twice_is_refused(run_cli):
    code, out, err = run_cli("summary", "lenet5", "--input", "3xHxW", "--set", "H=5,H=6")
    assert code == 2, out + err
    assert "error[usage-set]" in err and "H is given twice" in err


def test_a_symbolic_batch_name_must_be_a_symbol():
    with pytest.raises(SpecError) as info:
        analyze_text("name: t\ninput: [4, 8, 8]\nbatch: 'two words'\nlayers: [relu]\n")
    assert info.value.code == "spec-symbol"
