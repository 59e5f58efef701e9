"""Every built-in's JSON report keeps every number: params, buffers, MACs, FLOPs, activations,
shapes, receptive fields, totals, memory and row order, as taken before the network-graph rewrite
(``tests/snapshots/builtins.json``; ``python tests/test_snapshots.py --write`` takes them anew, which
a change must never need; ``--add`` stores the built-ins added since and leaves the rest alone).

Row paths are compared too. ``tests/snapshots/renamed.json`` lists the paths changed on purpose, old
-> new, and the groups since, per model: a ``when:``-dropped layer no longer takes a number, and a
parallel branch of one layer is that layer, named as the branch (torchvision's names: MobileNet v2's
``features.1.conv.0.0`` is the depthwise conv, GoogLeNet's ``inception3a.branch1.conv``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convcalc.cli import app

SNAPSHOTS = Path(__file__).parent / "snapshots" / "builtins.json"
COLUMNS = (
    "kind", "input_shapes", "output_shape", "params", "buffers", "macs", "flops", "activations", "activation_bytes",
    "receptive_field", "receptive_field_global", "inputs",
)
SYMBOLIC = {"resnet50": "3xHxW", "lenet5": "3xHxW", "unet": "1xHxW", "googlenet": "3xHxW"}
RENAMED: dict[str, dict] = json.loads((Path(__file__).parent / "snapshots" / "renamed.json").read_text())


def snapshot(name: str, *extra: str) -> dict:
    result = CliRunner().invoke(app, ["summary", name, "--format", "json", *extra])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return {
        "input_shape": data["input_shape"], "output_shape": data["output_shape"], "totals": data["totals"],
        "memory": data["memory"],
        "paths": [layer["path"] for layer in data["layers"]],
        "layers": [[_stored_keys(layer, key) for key in COLUMNS] for layer in data["layers"]],
        "groups": [[g["path"], g["kind"], g["depth"], g["first"], g["end"], g["output_shape"]] for g in data["groups"]],
    }


RF_KEYS = ("size", "jump", "start", "padding")  # the receptive-field keys of schema 1; keys added since are not stored


def _stored_keys(layer: dict, key: str):
    if key == "receptive_field":
        return [{k: axis[k] for k in RF_KEYS} for axis in layer[key]]
    return layer[key]


def _stored() -> dict:
    return json.loads(SNAPSHOTS.read_text())


def _compare(name: str, now: dict, then: dict) -> None:
    change = RENAMED.get(name, {})
    renamed = change.get("paths", {})
    then = {**then, "paths": [renamed.get(p, p) for p in then["paths"]], "groups": change.get("groups", then["groups"])}
    for key in ("input_shape", "output_shape", "totals", "memory", "paths"):
        assert now[key] == then[key], f"{name}: {key} changed"
    assert len(now["layers"]) == len(then["layers"]), f"{name}: {len(then['layers'])} rows before, {len(now['layers'])} now"
    for i, (row_now, row_then) in enumerate(zip(now["layers"], then["layers"])):
        assert row_now == row_then, f"{name}: row {i} ({now['paths'][i]}) changed: {dict(zip(COLUMNS, row_then))} -> {dict(zip(COLUMNS, row_now))}"
    assert now["groups"] == then["groups"], f"{name}: groups changed"


@pytest.mark.parametrize("name", sorted(_stored()["models"]))
def test_builtin_numbers_unchanged(name):
    _compare(name, snapshot(name), _stored()["models"][name])


@pytest.mark.parametrize("name", sorted(SYMBOLIC))
def test_symbolic_builtin_formulas_unchanged(name):
    _compare(f"{name} {SYMBOLIC[name]}", snapshot(name, "--input", SYMBOLIC[name]), _stored()["symbolic"][name])


def test_every_builtin_has_a_snapshot():
    from convcalc.spec.zoo import builtin_names

    missing = sorted(set(builtin_names()) - set(_stored()["models"]))
    assert not missing, f"no snapshot for {missing}: python tests/test_snapshots.py --add"


def _write(add_only: bool) -> None:  # pragma: no cover - run by hand, never by a change
    """``--add`` snapshots the built-ins not stored yet and keeps every stored entry as it is."""
    from convcalc.spec.zoo import builtin_names

    old = _stored() if add_only else {"models": {}, "symbolic": {}}
    stored = {"columns": list(COLUMNS),
              "models": {n: old["models"].get(n) or snapshot(n) for n in sorted(builtin_names())},
              "symbolic": {n: old["symbolic"].get(n) or snapshot(n, "--input", s) for n, s in SYMBOLIC.items()}}
    lines = ["{", f' "columns": {json.dumps(stored["columns"])},']
    for section in ("models", "symbolic"):
        lines.append(f' "{section}": {{')
        entries = list(stored[section].items())
        for i, (name, snap) in enumerate(entries):
            lines.append(f'  "{name}": {{')
            parts = []
            for key, value in snap.items():
                if key in ("layers", "groups", "paths"):
                    body = ",\n".join("    " + json.dumps(x, separators=(",", ":")) for x in value)
                    parts.append(f'   "{key}": [\n{body}\n   ]')
                else:
                    parts.append(f'   "{key}": {json.dumps(value, separators=(",", ":"))}')
            lines.append(",\n".join(parts))
            lines.append("  }" + ("," if i < len(entries) - 1 else ""))
        lines.append(" }" + ("," if section == "models" else ""))
    lines.append("}")
    SNAPSHOTS.write_text("\n".join(lines) + "\n")


if __name__ == "__main__" and ("--write" in sys.argv or "--add" in sys.argv):  # pragma: no cover
    _write(add_only="--add" in sys.argv)
