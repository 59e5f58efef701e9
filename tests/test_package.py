"""What `pip install .` installs: the metadata `pip show` prints (license, project URLs), the
LICENSE, the built-in specs inside the package, and extras that install what their features import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import convcalc

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package built from this checkout and installed, without dependencies, into a folder."""
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--target", str(target), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    if result.returncode != 0:
        pytest.fail(f"pip install . failed:\n{result.stdout}\n{result.stderr}")
    return target


def pip_show(site: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-m", "pip", "show", "--verbose", "convcalc"], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_pip_show_license_and_urls(installed):
    shown = pip_show(installed)
    assert "License: MIT" in shown.splitlines()
    assert "Author: convcalc developers" in shown.splitlines()
    urls = shown.split("Project-URLs:\n", 1)[1].splitlines()
    assert "  PyTorch nn (parity), https://pytorch.org/docs/stable/nn.html" in urls
    assert "  fvcore (--compat), https://github.com/facebookresearch/fvcore" in urls
    assert "OWNER" not in shown  # no made-up repository address
    assert "  License :: OSI Approved :: MIT License" in shown.splitlines()


def test_license_and_specs_are_installed(installed):
    (dist_info,) = installed.glob("convcalc-*.dist-info")
    license_text = (dist_info / "licenses" / "LICENSE").read_text()
    assert license_text.startswith("MIT License") and "convcalc developers" in license_text
    assert (installed / "convcalc" / "specs" / "lenet5.yaml").read_bytes() == (ROOT / "specs" / "lenet5.yaml").read_bytes()
    assert (installed / "convcalc" / "specs" / "_read" / "lenet5.json").read_bytes() == (ROOT / "specs" / "_read" / "lenet5.json").read_bytes()


def test_an_installed_built_in_is_read_without_pyyaml(installed):
    """The stored readings ship in the package and are used there: naming a built-in imports no
    PyYAML; a spec file does."""
    code = ("import sys, convcalc; n = len(convcalc.analyze(convcalc.load_model('lenet5')).rows); before = 'yaml' in sys.modules; "
            "convcalc.load_spec('name: t\\ninput: [1, 8, 8]\\nlayers: [relu]\\n'); print(n, before, 'yaml' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(installed)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env, cwd=installed)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(len(convcalc.analyze(convcalc.load_model("lenet5")).rows)), "False", "True"]


def test_the_torch_extra_brings_numpy(installed):
    (dist_info,) = installed.glob("convcalc-*.dist-info")
    requires = [line for line in (dist_info / "METADATA").read_text().splitlines() if line.startswith("Requires-Dist:")]
    assert "Requires-Dist: numpy; extra == 'torch'" in requires
    assert "Requires-Dist: torch==2.13.0; extra == 'torch'" in requires
