"""The built-ins' stored readings (convcalc.spec._readings): current, exactly the YAML reader's,
used only for the text they were made from, and what spares a built-in PyYAML."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import convcalc
from convcalc.spec import _readings, _write_readings, zoo
from convcalc.spec._readings import READ_DIR, stored_reading
from convcalc.spec._write_readings import _typed, main, reading_text
from convcalc.spec._yaml import load_yaml

ROOT = Path(__file__).resolve().parent.parent
READ = ROOT / "specs" / READ_DIR


@pytest.mark.parametrize("name", zoo.builtin_names())
def test_every_built_in_has_its_current_reading(name):
    """``python -m convcalc.spec._write_readings`` would write what is there, and it is the reader's
    own reading of the YAML: the value and every value's and key's position, types and all."""
    stored = READ / f"{name}.json"
    assert stored.is_file() and stored.read_text(encoding="utf-8") == reading_text(name), \
        f"{stored.name} is not current: run `python -m convcalc.spec._write_readings`"
    text, file = zoo.read_source(name)
    value, source = stored_reading(text, file)
    want_value, want = load_yaml(text, file)
    assert _typed(value) == _typed(want_value)
    assert (source.file, _typed(source.values), _typed(source.keys)) == (want.file, _typed(want.values), _typed(want.keys))


def test_no_reading_is_left_of_a_spec_that_is_gone():
    assert sorted(p.stem for p in READ.glob("*.json")) == zoo.builtin_names()
    assert main(["--check"]) == 0


def test_a_text_edited_since_is_read_from_its_yaml():
    """A stored reading answers only for the very text it was made from: the same name with
    another text (a copy of a built-in, edited) is read as any file is."""
    text, file = zoo.read_source("resnet50")
    assert stored_reading(text, file) is not None
    edited = text.replace("linear: {out_features: 1000}", "linear: {out_features: 10}")
    assert edited != text and stored_reading(edited, file) is None
    assert convcalc.analyze(convcalc.load_spec(edited, file)).output_shape == (10,)
    assert stored_reading(text, "models/resnet50.yaml") is None  # a path: never a built-in's name


def _specs_in(folder: Path, monkeypatch) -> None:
    for module in (zoo, _readings, _write_readings):
        monkeypatch.setattr(module, "specs_dir", lambda: folder)


def test_a_damaged_reading_is_read_from_its_yaml(tmp_path, monkeypatch):
    (tmp_path / READ_DIR).mkdir()
    (tmp_path / "lenet5.yaml").write_text(zoo.read_source("lenet5")[0], encoding="utf-8")
    (tmp_path / READ_DIR / "lenet5.json").write_text('{"text": "cut off', encoding="utf-8")
    _specs_in(tmp_path, monkeypatch)
    text, file = zoo.read_source("lenet5")
    assert stored_reading(text, file) is None
    # 6*(3*5*5) + 6, 16*(6*5*5) + 16, 400*120 + 120, 120*84 + 84, 84*10 + 10
    assert convcalc.analyze(convcalc.load_spec(text, file)).totals.params == 456 + 2416 + 48120 + 10164 + 850


def test_check_reports_a_stale_reading(tmp_path, monkeypatch, capsys):
    (tmp_path / READ_DIR).mkdir()
    (tmp_path / "lenet5.yaml").write_text(zoo.read_source("lenet5")[0] + "# edited\n", encoding="utf-8")
    (tmp_path / READ_DIR / "gone.json").write_text("{}", encoding="utf-8")
    _specs_in(tmp_path, monkeypatch)
    monkeypatch.setattr(_write_readings, "builtin_names", lambda: ["lenet5"])
    assert main(["--check"]) == 1
    assert "lenet5.json: not current" in capsys.readouterr().err
    assert main([]) == 0
    assert sorted(p.name for p in (tmp_path / READ_DIR).iterdir()) == ["lenet5.json"]
    assert main(["--check"]) == 0


def test_summary_of_a_built_in_imports_no_pyyaml():
    """The point of the readings: ``convcalc summary resnet50`` never imports PyYAML (about a tenth
    of its whole process); a spec file does."""
    code = ("import atexit, sys; from convcalc.cli import run; "
            "atexit.register(lambda: sys.stderr.write('yaml imported: %s' % ('yaml' in sys.modules))); "
            "sys.argv = ['convcalc', 'summary', sys.argv[1], '--format', 'json']; run()")
    for target, imported in (("resnet50", False), (str(ROOT / "specs" / "resnet50.yaml"), True)):
        result = subprocess.run([sys.executable, "-c", code, target], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert result.returncode == 0 and f"yaml imported: {imported}" in result.stderr, (target, result.stderr)
        assert '"params": 25557032' in result.stdout
