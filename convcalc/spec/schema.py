"""The JSON Schema of the spec format, built from the same models that validate specs."""

from __future__ import annotations

from typing import Any

from convcalc.spec.model import META_KEYS
from convcalc.kinds import ALIASES, KINDS
from convcalc.spec import Expect, SpecModel

__all__ = ["spec_json_schema"]

_PARAM_REF = {"type": "string", "pattern": r"^\$", "description": "a block parameter: $name or ${expression}"}


def _loosen(schema: Any) -> Any:
    """Inside blocks any value may be a ``$parameter``: allow that string wherever a value goes."""
    if isinstance(schema, dict):
        if "properties" in schema:
            schema = {**schema, "properties": {k: {"anyOf": [_loosen(v), _PARAM_REF]} for k, v in schema["properties"].items()}}
        return {k: (_loosen(v) if k in ("$defs",) else v) for k, v in schema.items()}
    return schema


def _meta_properties() -> dict[str, Any]:
    return {
        "name": {"type": "string", "description": "the layer's name in paths (layer3.1.conv2)"},
        "id": {"type": "string", "description": "names this output so that later layers can read it"},
        "input": {"type": "string", "description": "read this tensor id instead of the previous output"},
        "repeat": {"anyOf": [{"type": "integer", "minimum": 1}, _PARAM_REF]},
        "when": {"anyOf": [{"type": "boolean"}, _PARAM_REF], "description": "inside blocks: keep the item only when true"},
        "expect": Expect.model_json_schema(),
        "functional": {"type": "boolean", "description": "called as a torch.nn.functional function in PyTorch, not a module (F.relu)"},
        "share": {"type": "string", "description": "reuse the weights of the layer with this path or name (tied weights): params counted once, MACs per use"},
    }


def _layer_item_schema() -> dict[str, Any]:
    options: list[dict[str, Any]] = [{"type": "string", "enum": sorted([*KINDS, *ALIASES]), "description": "a layer kind without arguments"}]
    for name, cls in sorted(KINDS.items()):
        options.append({
            "type": "object",
            "description": cls.summary,
            "properties": {name: {"anyOf": [_loosen(cls.model_json_schema()), {"type": "null"}]}, **_meta_properties()},
            "required": [name],
            "additionalProperties": False,
        })
    for name, description in (("seq", "a named group of layers"), ("residual", "{body: [...], shortcut: [...]}, added"), ("parallel", "{merge: concat|add|multiply, branches: [[...], ...]}")):
        options.append({"type": "object", "description": description, "properties": {name: {}, **_meta_properties()}, "required": [name]})
    options.append({"type": "object", "description": "a block from `blocks:`, with its parameters", "minProperties": 1})
    return {"anyOf": options}


def spec_json_schema() -> dict[str, Any]:
    schema = SpecModel.model_json_schema()
    item = _layer_item_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "convcalc spec"
    schema["properties"]["layers"] = {"type": "array", "items": item, "minItems": 1}
    blocks = schema["properties"].get("blocks", {})
    blocks["additionalProperties"] = {
        "type": "object",
        "properties": {"description": {"type": "string"}, "params": {"type": "object"}, "layers": {"type": "array", "items": item}},
        "required": ["layers"],
        "additionalProperties": False,
    }
    schema["properties"]["blocks"] = blocks
    schema["$defs"].pop("BlockModel", None)
    assert set(META_KEYS) <= set(_meta_properties())
    return schema
