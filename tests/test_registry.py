"""Everything about a layer kind lives on its class, and nothing is missing for any kind.

Adding a kind means its module, one line in the registry (convcalc/kinds/__init__.py), a golden
case (test_kind_goldens.py) and a PyTorch parity case (test_export.py's KIND_CASES); this test walks
the registry and fails for a kind without any of them, without a PyTorch translation, without a
count for each peer tool, or without its row in the README's table of kinds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from convcalc.interop.compat import TOOLS
from convcalc.kinds import ALIASES, KINDS, LayerKind
from convcalc.render.formats import Format
from convcalc.render.kinds import kind_entries, render_kinds
from test_export import FEATURE_CASES, KIND_CASES
from test_kind_goldens import GOLDEN

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_kind_is_complete(kind):
    cls = KINDS[kind]
    assert cls.kind == kind and cls.summary, f"{kind}: no summary"
    assert cls.torch is not LayerKind.torch, f"{kind}: no PyTorch translation (LayerKind.torch)"
    assert set(TOOLS) <= set(cls.compat), f"{kind}: says nothing about {sorted(set(TOOLS) - set(cls.compat))}"
    assert kind in GOLDEN, f"{kind}: no golden case in test_kind_goldens.py"
    assert kind in KIND_CASES, f"{kind}: no PyTorch parity case in test_export.py's KIND_CASES"


def test_every_alias_names_a_kind_and_shadows_none():
    assert all(target in KINDS for target in ALIASES.values())
    assert not set(ALIASES) & set(KINDS)


def test_the_readme_lists_every_kind():
    """The README's table of kinds is ``convcalc kinds --format markdown``."""
    table = render_kinds(kind_entries(), Format.markdown)
    assert table in README.read_text(encoding="utf-8"), "the README's table of kinds is not `convcalc kinds -f markdown`: regenerate it"
    listed = {kind for entry in kind_entries() for kind in entry["kinds"]}
    assert listed == set(KINDS)


def test_export_cases_name_real_kinds():
    assert set(KIND_CASES) <= set(KINDS) and all(isinstance(case, tuple) for case in FEATURE_CASES.values())


def test_the_registry_table_is_the_classes():
    """KINDS names each kind's module without importing it: the table must say what the modules define."""
    import importlib
    import pkgutil

    import convcalc.kinds as kinds

    defined, aliases = {}, {}
    for info in pkgutil.iter_modules(kinds.__path__):
        if not info.name.startswith("_"):
            for kind, cls in kinds.classes_in(importlib.import_module(f"convcalc.kinds.{info.name}")).items():
                defined[kind] = info.name
                aliases.update({alias: kind for alias in cls.aliases})
    assert kinds._MODULES == defined
    assert ALIASES == aliases
    assert all(KINDS[kind].kind == kind for kind in KINDS)


def test_a_summary_imports_only_the_kinds_it_uses():
    import subprocess
    import sys

    code = ("import sys, convcalc; convcalc.analyze(convcalc.load_model('resnet18')); "
            "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('convcalc.kinds.') and not m.rsplit('.', 1)[1].startswith('_')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["['activation',", "'conv',", "'linear',", "'merge',", "'norm',", "'pool',", "'tensor']"]
