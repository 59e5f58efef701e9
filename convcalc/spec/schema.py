"""The JSON Schema of the spec format, built from the models that validate specs.

Draft-07, the draft editors' YAML support reads (yaml-language-server, hence VS Code, Neovim,
JetBrains' YAML plugin). Everything comes from the code that validates specs, so that a kind or
an argument added there is in the schema at once: the top level from :class:`SpecModel` and
:class:`Expect`, each layer kind's arguments from its pydantic model in ``KINDS`` (under its
aliases too), the keys every item may carry from ``META_KEYS``, budgets from ``BUDGET_KEYS``.
``residual`` and ``parallel`` are read by ``graph/build.py``, which this layer cannot import: their
schemas are written here, and a test holds them to build's models.

What JSON Schema can say, it says: unknown kinds, arguments and top-level keys, wrong types,
ranges (sizes >= 1, at most ``MAX_INT``), the channel count of ``input:`` a number, one kind per
item, kinds that need arguments never bare, budgets' metric names. A value may be a block
parameter or an expression (``$width``, ``${width * 4}``) wherever convcalc substitutes one,
which is every argument of every item. Block uses are items whose key names a block; JSON
Schema cannot compare a key with the names under ``blocks:``, so the schema of every spec allows
them only in a spec that has ``blocks:``, and the schema of one spec (``spec_json_schema(spec)``,
``convcalc schema SPEC``) knows its blocks by name and their parameters. What needs the
network's shapes (a kernel larger than its input, channels that do not add up) is convcalc's
own to say.

Common value types are named once under ``definitions``; :func:`schema_text` prints the schema
with short values on one line.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from convcalc.arith.dims import MAX_INT
from convcalc.kinds import ALIASES, KINDS
from convcalc.spec.model import BUDGET_KEYS, META_KEYS, PREVIOUS, STRUCTURAL, SYMBOL, Expect, Spec, SpecModel

__all__ = ["DRAFT", "spec_json_schema", "schema_text"]

DRAFT = "http://json-schema.org/draft-07/schema#"
_TENSOR_ID = {"type": "string", "minLength": 1, "not": {"const": PREVIOUS}}
_MERGES = ("concat", "add", "multiply")  # parallel's merge (graph/build.py _ParallelArgs)
_CROPS = ("none", "center")
_WIDTH = 100
_SHORT = 50  # a list of values this short fills its lines


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/definitions/{name}"}


_PARAM = {"type": "string", "pattern": r"\$", "description": "a block parameter or an expression: $width, ${width * 4}"}
# A leaf takes its type or a parameter: a bound applies to numbers only, a pattern to strings only.
# (patternErrorMessage is VS Code's word for what the pattern means; validators ignore it.)
_LEAVES: dict[str, dict[str, Any]] = {
    "int": {"type": ["integer", "string"], "minimum": -MAX_INT, "maximum": MAX_INT},
    "positive_int": {"type": ["integer", "string"], "minimum": 1, "maximum": MAX_INT},
    "non_negative_int": {"type": ["integer", "string"], "minimum": 0, "maximum": MAX_INT},
    "number": {"type": ["number", "string"]},
    "bool": {"type": ["boolean", "string"]},
}
_OR_PARAM = {"pattern": r"\$", "patternErrorMessage": "a value, or a block parameter or expression: $width, ${width * 4}"}


def _leaf_name(schema: dict[str, Any]) -> Optional[str]:
    """The name of the leaf type pydantic wrote (``StrictInt`` with ``ge=1``: positive_int)."""
    kind = schema.get("type")
    if kind == "integer" and set(schema) <= {"type", "minimum"}:
        return {None: "int", 1: "positive_int", 0: "non_negative_int"}.get(schema.get("minimum"))
    return {"number": "number", "boolean": "bool"}.get(kind) if set(schema) == {"type"} else None


class _Types:
    """Turns pydantic's schema of an argument into ours: every leaf a named type that also takes a
    ``$parameter``; a union of a type and a list of it (one value, or one per axis) named after
    the type (``positive_ints``); a union that several arguments of one name share named after
    the argument (``padding``); titles dropped."""

    def __init__(self) -> None:
        self.definitions: dict[str, Any] = {"param": _PARAM}
        self.uses: dict[str, tuple[dict[str, Any], list[str]]] = {}  # a union's text -> it, and the arguments that use it

    def leaf(self, name: str) -> dict[str, str]:
        self.definitions.setdefault(name, {**_LEAVES[name], **_OR_PARAM})
        return _ref(name)

    def value(self, schema: dict[str, Any]) -> dict[str, Any]:
        schema = {k: v for k, v in schema.items() if k not in ("title", "default", "description")}
        if "anyOf" in schema:
            members = schema["anyOf"]
            if {"type": "integer"} in members and {"type": "number"} in members:
                members = [m for m in members if m != {"type": "integer"}]  # an int is a number
            nullable = {"type": "null"} in members
            members = [self.value(m) for m in members if m != {"type": "null"}]
            inner = members[0] if len(members) == 1 else self._union(members)
            return _any_of([inner, {"type": "null"}]) if nullable else inner
        if schema.get("type") == "array":
            array = {k: v for k, v in schema.items() if k in ("type", "minItems", "maxItems")}
            return {**array, "items": self.value(schema.get("items", {}))}
        name = _leaf_name(schema)
        if name:
            return self.leaf(name)
        if "enum" in schema:
            return {"anyOf": [{"enum": schema["enum"]}, _ref("param")]}
        return schema

    def _union(self, members: list[dict[str, Any]]) -> dict[str, Any]:
        one, *rest = members
        if rest == [{"type": "array", "items": one}] and "$ref" in one:
            name = one["$ref"].rsplit("/", 1)[-1] + "s"  # positive_ints: one, or one per axis
            self.definitions.setdefault(name, {"anyOf": [one, rest[0]]})
            return _ref(name)
        return _any_of(members)

    def argument(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        value = self.value(schema)
        if not _takes_param(value, self.definitions):
            value = _any_of([value, _ref("param")])
        if "anyOf" in value:
            self.uses.setdefault(json.dumps(value, sort_keys=True), (value, []))[1].append(name)
        notes = {k: schema[k] for k in ("description", "default") if k in schema}
        return {**value, **notes}

    def share(self, kinds: dict[str, Any]) -> None:
        """Name the unions that two or more arguments of one name share (``padding``)."""
        for union, names in self.uses.values():
            name = names[0]
            if len(names) < 2 or set(names) != {name} or name in self.definitions:
                continue
            self.definitions[name] = union
            for kind in kinds.values():
                for arg, value in kind.get("properties", {}).items():
                    if {k: v for k, v in value.items() if k not in ("description", "default")} == union:
                        kind["properties"][arg] = {**_ref(name), **{k: v for k, v in value.items() if k in ("description", "default")}}


def _any_of(members: list[dict[str, Any]]) -> dict[str, Any]:
    """A union, with the members of unions inside it spliced in."""
    flat: list[dict[str, Any]] = []
    for member in members:
        for one in member["anyOf"] if set(member) == {"anyOf"} else [member]:
            if one not in flat:
                flat.append(one)
    return {"anyOf": flat}


def _takes_param(schema: dict[str, Any], definitions: dict[str, Any]) -> bool:
    if schema == _ref("param") or schema.get("pattern") == _OR_PARAM["pattern"]:
        return True
    if schema.get("type") == "string" and not {"enum", "pattern", "const"} & set(schema):
        return True
    if "$ref" in schema:
        return _takes_param(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions)
    return any(_takes_param(m, definitions) for m in schema.get("anyOf", ()))


def _kind_definitions(types: _Types) -> dict[str, Any]:
    """One object schema per kind: its arguments, which it requires; ``null`` (``- relu:``) when
    it requires none."""
    kinds: dict[str, Any] = {}
    for name, cls in sorted(KINDS.items()):
        model = _inlined(cls.model_json_schema())
        required = model.get("required", [])
        torch_names = {**{width: _ref("input_width") for width in cls.input_width}, **{other: _ref("torch_only") for other in cls.torch_only}}
        kinds[name] = {
            "type": "object" if required else ["object", "null"],
            "description": cls.summary or (model.get("description") or name).split("\n")[0],
            "properties": {**{arg: types.argument(arg, schema) for arg, schema in model.get("properties", {}).items()}, **torch_names},
            **({"required": required} if required else {}),
            "additionalProperties": False,
        }
    types.share(kinds)
    types.definitions["input_width"] = {**_ref("positive_int"), "description": "PyTorch's name for a width convcalc infers (in_channels): checked against the input"}
    types.definitions["torch_only"] = {"description": "PyTorch's argument that changes no count (inplace, device, dtype): accepted and left alone"}
    return kinds


def _inlined(schema: Any, defs: Optional[dict[str, Any]] = None) -> Any:
    """pydantic's schema with its ``$defs`` (an Enum, a nested model) written in place."""
    if defs is None and isinstance(schema, dict):
        defs = schema.get("$defs", {})
        schema = {k: v for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, dict):
        here = {k: _inlined(v, defs) for k, v in schema.items() if k != "$ref"}
        return {**_inlined(defs[schema["$ref"].rsplit("/", 1)[-1]], defs), **here} if "$ref" in schema else here
    if isinstance(schema, list):
        return [_inlined(v, defs) for v in schema]
    return schema


def _written_kinds() -> dict[str, str]:
    """Every name a kind is written with -> the kind."""
    return {**{name: name for name in KINDS}, **ALIASES}


def _meta_properties() -> dict[str, Any]:
    meta = {
        "name": {"type": ["string", "integer", "null"], "pattern": "^[^.]+$", "description": "the layer's name in paths (layer3.1.conv2): no dots"},
        "id": {"anyOf": [_TENSOR_ID, {"type": "array", "items": _TENSOR_ID}],
               "description": "names this output (a list: each output of a layer with several) for later layers' input:"},
        "input": {"type": "string", "description": "read this tensor id instead of the previous output"},
        "repeat": {**_ref("non_negative_int"), "description": "the item, this many times in a row (0: left out); i counts the copies"},
        "when": {"type": ["boolean", "integer", "string"], **_OR_PARAM, "description": "keep the item only when true (or not 0): an expression of block parameters"},
        "expect": {**_ref("expect"), "description": "expected values, checked by convcalc check"},
        "functional": {**_ref("bool"), "description": "called as a torch.nn.functional function in PyTorch, not a module (F.relu)"},
        "share": {"type": "string", "description": "reuse the weights of the layer with this path or name (tied weights): params counted once, MACs per use"},
    }
    assert set(meta) == set(META_KEYS), "every key an item may carry (spec/model.py)"
    return meta


def _names(kinds: dict[str, Any], blocks: Optional[dict[str, Any]]) -> dict[str, Any]:
    """What the item schemas share: every key that names what an item is (``kind_name``), those
    that may stand alone as a string (``bare_kind``: no required argument), and ``one_kind``,
    true when an item has exactly one of them."""
    written = _written_kinds()
    keys = list(dict.fromkeys([*written, *STRUCTURAL, *(blocks or {})]))
    uses = blocks or {}
    bare = [name for name in sorted(written) if name not in uses and "required" not in kinds[written[name]]]
    bare += [name for name, use in uses.items() if "required" not in use]
    return {
        "kind_name": {"enum": keys},
        "bare_kind": {"enum": bare, "description": "a layer kind without required arguments"},
        "one_kind": {"oneOf": [{"required": [key]} for key in keys], "description": "exactly one kind per item"},
    }


def _family(suffix: str, block_uses: Any, blocks: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The schemas of a list of layers and what it holds (seq, residual, parallel, nested), the
    definitions ending in ``suffix``. ``block_uses`` is the schema of an item's key that names no
    kind: ``False`` when there is none, else a block use; ``blocks``: the spec's blocks by name."""
    properties = {
        **{name: _ref(f"kind.{kind}") for name, kind in sorted(_written_kinds().items())},
        "seq": {**_ref(f"layers{suffix}"), "description": "a named group of layers"},
        "residual": _ref(f"residual{suffix}"),
        "parallel": _ref(f"parallel{suffix}"),
        **(blocks or {}),
        **_meta_properties(),
    }
    strict = block_uses is False and blocks is None  # no blocks: every key is known
    if strict:
        bare: dict[str, Any] = _ref("bare_kind")
    elif blocks is not None:
        bare = {"anyOf": [_ref("bare_kind"), _ref("param")]}
    else:
        bare = {"type": "string", "anyOf": [_ref("bare_kind"), {"not": _ref("kind_name")}], "description": "a kind without arguments, or a block"}
    # With blocks, a key that names no kind is a block use or a kind a parameter names (`- $act:`):
    # then an item has at most one kind, and something besides name, id ...
    at_most_one = {"oneOf": [_ref("one_kind"), {"propertyNames": {"not": _ref("kind_name")}}]}
    counted = {"allOf": [_ref("one_kind")]} if strict else {"allOf": [at_most_one, {"not": {"propertyNames": {"enum": list(META_KEYS)}}}]}
    named_by_param = {} if block_uses is not False or strict else {
        "patternProperties": {r"\$": {"type": ["object", "null"], "description": "a kind a block parameter names: $act"}}}
    layers = _ref(f"layers{suffix}")
    return {
        f"layers{suffix}": {"type": "array", "items": _ref(f"layer{suffix}")},
        f"layer{suffix}": {"if": {"type": "string"}, "then": bare, "else": _ref(f"item{suffix}")},
        f"item{suffix}": {
            "type": "object",
            "description": "one layer kind (or seq, residual, parallel, a block) with its arguments, and name, id, input, repeat, when, expect",
            "properties": properties,
            **named_by_param,
            "additionalProperties": block_uses,
            **counted,
        },
        f"residual{suffix}": {
            "type": "object", "description": "body plus shortcut (identity when absent), added",
            "properties": {"body": layers, "shortcut": layers}, "required": ["body"], "additionalProperties": False,
        },
        f"parallel{suffix}": {
            "type": "object", "description": "branches from one input, merged",
            "properties": {
                "merge": {"enum": list(_MERGES)},
                "crop": {"enum": list(_CROPS), "default": "none"},
                "branches": {"anyOf": [{"type": "array", "items": layers}, {"type": "object", "additionalProperties": layers}]},
            },
            "required": ["merge", "branches"],
            "additionalProperties": False,
        },
    }


def _block_uses(spec: Spec) -> dict[str, Any]:
    """A spec's blocks as item keys: each one's parameters, those without a default required."""
    uses = {}
    for name, block in spec.blocks.items():
        required = [p for p, default in block.params.items() if default is None]
        uses[name] = {
            "type": "object" if required else ["object", "null"],
            "description": (block.description.strip().split("\n")[0] or f"the block {name!r}"),
            "properties": {p: {"description": "a parameter" if default is None else f"default {default!r}"} for p, default in block.params.items()},
            **({"required": required} if required else {}),
            "additionalProperties": False,
        }
    return uses


def _expect() -> dict[str, Any]:
    schema = Expect.model_json_schema()
    return {
        "type": "object",
        "properties": {key: _untitled(value) for key, value in schema["properties"].items()},
        "additionalProperties": False,
    }


def _untitled(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _untitled(v) for k, v in schema.items() if k not in ("title", "default")}
    if isinstance(schema, list):
        return [_untitled(v) for v in schema]
    return schema


def spec_json_schema(spec: Optional[Spec] = None) -> dict[str, Any]:
    """The schema of every spec; with ``spec``, of that spec: its blocks' names and parameters."""
    types = _Types()
    kinds = _kind_definitions(types)
    blocks = _block_uses(spec) if spec is not None and spec.blocks else None
    size = {"anyOf": [{"type": "integer", "minimum": 1, "maximum": MAX_INT}, {"type": "string", "pattern": SYMBOL.pattern}, _ref("param")],
            "description": "a size, a symbol (H), or an expression of params: (${resolution})"}
    budget_key = r"^(.+\.)?(" + "|".join(BUDGET_KEYS) + ")$"
    properties = {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "input": {
            "type": "array", "minItems": 1, "maxItems": 4, "description": "channels first: [C, L], [C, H, W] or [C, D, H, W]; spatial sizes may be symbols",
            "items": [{**_ref("positive_int"), "description": "channels: a number (or an expression of params)"}], "additionalItems": _ref("size"),
        },
        "batch": _ref("size"),
        "layers": {"type": "array", "minItems": 1},
        "blocks": {"type": "object", "description": "reusable blocks, used as items by name", "additionalProperties": _ref("block")},
        "expect": {"anyOf": [_ref("expect"), {"type": "null"}]},
        "budget": {
            "type": ["object", "null"], "description": "limits checked by convcalc check: params: '<= 25M', features.stage4.macs: '<= 1G'",
            "propertyNames": {"pattern": budget_key}, "additionalProperties": {"type": ["string", "integer"]},
        },
        "params": {"type": "object", "description": "design parameters, name: value, for expressions anywhere (${width_mult}); --set name=value"},
    }
    assert set(properties) == set(SpecModel.model_fields), "the top-level keys of spec/model.py"
    if blocks is not None:
        families = _family("", False, blocks)
        properties["layers"] = {**properties["layers"], **_ref("layers")}
        layers: dict[str, Any] = {}
        block_body = _ref("layers")
    else:
        block_use = {"type": ["object", "null"], "description": "a block from blocks:, with its parameters"}
        families = {**_family("", False), **_family("_using_blocks", block_use)}
        layers = {
            "if": {"required": ["blocks"]},
            "then": {"properties": {"layers": _ref("layers_using_blocks")}},
            "else": {"properties": {"layers": _ref("layers")}},
        }
        block_body = _ref("layers_using_blocks")
    definitions = {
        **families,
        **_names(kinds, blocks),
        "block": {
            "type": "object",
            "properties": {"description": {"type": "string"}, "params": {"type": "object", "description": "parameter: default (~ for none: then every use gives it)"}, "layers": block_body},
            "required": ["layers"],
            "additionalProperties": False,
        },
        "size": size,
        "expect": _expect(),
        **types.definitions,
        **{f"kind.{name}": kind for name, kind in kinds.items()},
    }
    return {
        "$schema": DRAFT,
        "title": "convcalc spec" + (f": {spec.name}" if blocks is not None else ""),
        "description": "A network for convcalc to analyse (convcalc's README: The spec format).",
        "type": "object",
        "properties": properties,
        "required": [name for name, info in SpecModel.model_fields.items() if info.is_required()],
        "additionalProperties": False,
        **layers,
        "definitions": definitions,
    }


def schema_text(schema: dict[str, Any]) -> str:
    """The schema as JSON that reads: a value that fits on one line stays on one (lists of short
    values fill their lines), every other value is indented, one entry per line."""
    return _render(schema, 0, 0) + "\n"


def _render(value: Any, indent: int, used: int) -> str:
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, (dict, list)) or not value or indent + used + len(flat) <= _WIDTH:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) or len(json.dumps(v)) <= _SHORT for v in value):
        lines, line = [], ""
        for piece in (json.dumps(v, ensure_ascii=False) for v in value):
            if line and len(pad) + len(line) + len(piece) + 1 > _WIDTH:
                lines.append(line)
                line = ""
            line += (" " if line else "") + piece + ","
        lines.append(line.rstrip(","))
        return "[\n" + "\n".join(pad + text for text in lines) + "\n" + " " * indent + "]"
    if isinstance(value, list):
        parts = [pad + _render(v, indent + 2, 0) for v in value]
        return "[\n" + ",\n".join(parts) + "\n" + " " * indent + "]"
    parts = [f"{pad}{json.dumps(k)}: {_render(v, indent + 2, len(json.dumps(k)) + 2)}" for k, v in value.items()]
    return "{\n" + ",\n".join(parts) + "\n" + " " * indent + "}"
