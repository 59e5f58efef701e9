"""The spec: YAML text -> validated models that remember where each value came from.

A spec's top level is validated here. Its layer items are validated when the engine reaches them,
because a reusable block's items only become concrete once the block's parameters are known.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Optional, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from convcalc.spec._readings import stored_reading
from convcalc.spec._source import Path, Source
from convcalc.errors import Position, SpecError

__all__ = [
    "BLOCK_INPUT",
    "BUDGET_KEYS",
    "BlockDef",
    "META_KEYS",
    "PREVIOUS",
    "STRUCTURAL",
    "Spec",
    "did_you_mean",
    "load_spec",
    "parse_spec",
    "spec_error_from_validation",
]

# The keys an item of `layers:` may carry besides its kind; the structural kinds; the tensor names
# every scope knows (`previous`: the output before; `block_input`: what entered the block).
META_KEYS = ("name", "id", "input", "expect", "repeat", "when", "functional", "share")
STRUCTURAL = ("seq", "residual", "parallel")
PREVIOUS = "previous"
BLOCK_INPUT = "block_input"
SYMBOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
BUDGET_KEYS = ("params", "buffers", "macs", "flops", "activations", "activation_bytes", "peak_activation_bytes", "receptive_field", "layers")

Dim = Union[StrictInt, StrictStr]


class Expect(BaseModel):
    """Expected values, checked by ``convcalc check``; on a layer or on the whole model.

    The models' validators are built when first used (``defer_build``): validating a spec builds
    :class:`SpecModel`'s, which holds the other two; a spec without ``expect:`` on a layer never
    builds :class:`Expect`'s own.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)
    shape: Optional[list[Dim]] = None
    output: Optional[list[Dim]] = None
    params: Optional[Union[StrictInt, StrictStr]] = None
    buffers: Optional[Union[StrictInt, StrictStr]] = None
    macs: Optional[Union[StrictInt, StrictStr]] = None
    flops: Optional[Union[StrictInt, StrictStr]] = None
    activations: Optional[Union[StrictInt, StrictStr]] = None
    activation_bytes: Optional[Union[StrictInt, StrictStr]] = None
    receptive_field: Optional[Union[StrictInt, list[StrictInt]]] = None


class BlockModel(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    description: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    layers: list[Any]


class SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    name: StrictStr
    description: str = ""
    input: list[Dim] = Field(min_length=1, max_length=4)
    batch: Dim = 1
    layers: list[Any] = Field(min_length=1)
    blocks: dict[str, BlockModel] = Field(default_factory=dict)
    expect: Optional[Expect] = None
    budget: Optional[dict[str, Union[StrictStr, StrictInt]]] = None
    params: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class BlockDef:
    """A reusable block of ``blocks:``, its items raw until a use gives its parameters."""

    name: str
    description: str
    params: dict[str, Any]
    layers: list[Any]


@dataclass
class Spec:
    """A validated spec. ``layers`` and block bodies stay raw, with their positions in ``source``."""

    name: str
    description: str
    input: tuple[Any, ...]
    batch: Any
    layers: list[Any]
    blocks: dict[str, BlockDef]
    expect: Optional[Expect]
    budget: dict[str, Any]
    source: Source
    data: dict[str, Any] = field(repr=False, default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)  # top-level parameters, after --set

    def with_params(self, values: dict[str, Any]) -> "Spec":
        """The spec with some of its top-level ``params:`` given other values (``--set``). The
        rest was validated already: only the input and the batch, which may read params, are
        read again (a sweep makes one spec per point)."""
        params, dims, batch = _with_params(self.data.get("params") or {}, self.data["input"], self.data.get("batch", 1), values, self.source)
        return dataclasses.replace(self, input=dims, batch=batch, params=params)

    @property
    def file(self) -> str:
        return self.source.file

    def pos(self, path: Path, *, key: bool = False) -> Position:
        return self.source.pos(path, key=key)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(d for d in (*self.input, self.batch) if isinstance(d, str))


def did_you_mean(word: str, choices) -> str | None:
    match = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else None


_TYPE_WORDS = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "string_type": "a string", "bool_type": "true or false", "list_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "float_type": "a number",
    "finite_number": "a finite number",
}
_RANGES = ("greater_than_equal", "greater_than", "less_than_equal", "less_than")
# How pydantic names union members and validators in an error location; a key of the spec never
# looks like this unless someone writes `literal['a']:` as a key, which is then only misplaced.
_TYPE_TAG = re.compile(
    r"^(?:int|str|float|bool|list|dict|none|constrained-[a-z]+|function-(?:after|before|wrap|plain)"
    r"|(?:list|dict|set|frozenset|tuple|literal|union|tagged-union|nullable|lax-or-strict|json-or-python|is-instance|function-\w+)\[.*\])$"
)


def spec_error_from_validation(exc: ValidationError, source: Source, base: Path, what: str, fields=None) -> SpecError:
    """Map pydantic's errors to one readable line at the deepest YAML node that exists.

    An unknown key is reported before a missing one (a misspelt key causes both, and the
    misspelling is what to fix). A value that fails every member of a union (``padding``: an int,
    ``same``/``valid`` or a list) is reported once, naming every accepted form. ``fields`` lists
    the accepted keys, or is the pydantic model itself, so that nested keys get a did-you-mean too.
    """
    errors = [(_clean_loc(err["loc"], keep_last=err["type"] in ("extra_forbidden", "missing")), err) for err in exc.errors(include_url=False)]
    extra = [pair for pair in errors if pair[1]["type"] == "extra_forbidden"]
    loc, alternatives = (extra[0][0], [extra[0][1]]) if extra else _deepest(errors)
    err = alternatives[0]
    path = (*base, *loc)
    where = ".".join(str(p) for p in loc) or what
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        name = loc[-1]
        hint = did_you_mean(name, _fields_at(fields, loc[:-1]))
        return SpecError("spec-unknown-arg", f"unknown argument {name!r} for {_owner(what, loc)}", source.pos(path, key=True), hint)
    if kind == "missing":
        return SpecError("spec-missing-arg", f"{_owner(what, loc)} needs {loc[-1]!r}", source.pos((*base, *loc[:-1]), key=True))
    if kind in _RANGES:
        return SpecError("spec-range", f"{where}: {err['msg'].lower()}, got {value!r}", source.pos(path))
    if kind in ("too_short", "too_long"):
        return SpecError("spec-length", f"{where}: {err['msg'].lower().replace(' after validation', '')}", source.pos(path))
    words = [_expected(alt) for alt in alternatives]
    if all(words):
        choices = [choice for alt in alternatives for choice in _literal_choices(alt)]
        hint = did_you_mean(value, choices) if isinstance(value, str) and choices else None
        code = "spec-choice" if kind == "literal_error" and len(alternatives) == 1 else "spec-type"
        return SpecError(code, f"{where}: expected {_join(words)}, got {_describe(value)}", source.pos(path), hint)
    return SpecError("spec-invalid", f"{where}: {err['msg']}", source.pos(path))


def _clean_loc(loc: tuple, keep_last: bool = False) -> tuple:
    """pydantic names union members and validators in error locations (``int``,
    ``list[int]``, ``literal['same','valid']``): drop them, keep the keys and indices. An unknown
    or missing key ends the location: it stays, even when it is spelt ``int``."""
    head, tail = (loc[:-1], loc[-1:]) if keep_last else (loc, ())
    return (*(part for part in head if not (isinstance(part, str) and _TYPE_TAG.match(part))), *tail)


def _deepest(errors: list[tuple[tuple, dict]]) -> tuple[tuple, list[dict]]:
    """The first error's field, at the deepest location any union member reached (a list that
    matched ``list[int]`` but holds a string is about that string), with every alternative there."""
    first = errors[0][0]
    related = [(loc, err) for loc, err in errors if loc[: len(first)] == first]
    deepest = max((loc for loc, _ in related), key=len)
    return deepest, [err for loc, err in related if loc == deepest]


def _fields_at(fields, loc: tuple) -> list[str]:
    """Accepted keys at ``loc`` inside ``fields`` (a list of names, or a pydantic model whose
    annotations are walked: ``blocks.stage`` is a ``BlockModel``)."""
    if not (isinstance(fields, type) and issubclass(fields, BaseModel)):
        return list(fields or ()) if not loc else []
    annotation: Any = fields
    for part in loc:
        annotation = _step(_unwrap(annotation), part)
        if annotation is None:
            return []
    annotation = _unwrap(annotation)
    is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return list(annotation.model_fields) if is_model else []


def _unwrap(annotation: Any) -> Any:
    """``Optional[X]`` -> ``X``; any other annotation as it is."""
    if get_origin(annotation) is Union:
        members = [a for a in get_args(annotation) if a is not type(None)]
        return members[0] if len(members) == 1 else annotation
    return annotation


def _step(annotation: Any, part: Any) -> Any:
    """The annotation one key or index further in."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        info = annotation.model_fields.get(part) if isinstance(part, str) else None
        return info.annotation if info else None
    if get_origin(annotation) in (dict, list):
        return get_args(annotation)[-1]
    return None


def _owner(what: str, loc: tuple) -> str:
    return ".".join(str(p) for p in loc[:-1]) or what


def _expected(err: dict) -> Optional[str]:
    if err["type"] == "literal_error":
        return err["ctx"]["expected"]
    return _TYPE_WORDS.get(err["type"])


def _literal_choices(err: dict) -> list[str]:
    if err["type"] != "literal_error":
        return []
    return re.findall(r"'([^']*)'", err["ctx"]["expected"])


def _join(words: list[str]) -> str:
    words = list(dict.fromkeys(words))
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])}, or {words[-1]}" if len(words) > 2 else f"{words[0]} or {words[1]}"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing (null)"
    return repr(value)


def parse_spec(data: Any, source: Source, overrides: Optional[dict[str, Any]] = None) -> Spec:
    """Validate the top level. ``params:`` (design parameters, e.g. EfficientNet's ``width_mult``)
    may be used in expressions anywhere, ``input:`` included; ``overrides`` gives some of them other
    values (``--set width_mult=2.0``)."""
    if not isinstance(data, dict):
        raise SpecError("spec-not-mapping", f"a spec is a mapping with `name`, `input` and `layers`, got {_describe(data)}", source.pos(()))
    try:
        model = SpecModel.model_validate(data)
    except ValidationError as exc:
        raise spec_error_from_validation(exc, source, (), "the spec", SpecModel) from None
    params, dims, batch = _with_params(model.params, model.input, model.batch, overrides, source)
    blocks = {name: BlockDef(name, b.description, dict(b.params), b.layers) for name, b in model.blocks.items()}
    budget = dict(model.budget or {})
    for key in budget:
        if key.rsplit(".", 1)[-1] not in BUDGET_KEYS:  # `features.stage4.params`: a layer's budget
            raise SpecError("spec-budget-key", f"unknown budget {key!r}", source.pos(("budget", key), key=True), did_you_mean(key, BUDGET_KEYS))
    return Spec(
        name=model.name, description=model.description, input=dims, batch=batch,
        layers=model.layers, blocks=blocks, expect=model.expect, budget=budget, source=source, data=data, params=params,
    )


def _with_params(defaults: dict, raw_input: list, raw_batch: Any, overrides: Optional[dict[str, Any]], source: Source) -> tuple[dict, tuple, Any]:
    """The params with ``overrides``, and the input and batch they give."""
    params = dict(defaults)
    for name, value in (overrides or {}).items():
        if name not in params:
            from convcalc.errors import UsageError

            raise UsageError("usage-set", f"--set {name}={value}: the spec has no parameter {name!r} (its parameters: {', '.join(params) or 'none'})")
        params[name] = value
    sizes = [_resolve_top(d, params, source, ("input", i)) for i, d in enumerate(raw_input)]
    batch = _resolve_top(raw_batch, params, source, ("batch",))
    dims = []
    for i, d in enumerate(sizes):
        if isinstance(d, str) and not SYMBOL.match(d):
            raise SpecError("spec-symbol", f"input[{i}]: {d!r} is neither a size nor a symbol name", source.pos(("input", i)))
        if isinstance(d, int) and d < 1:
            raise SpecError("spec-range", f"input[{i}]: sizes must be >= 1, got {d}", source.pos(("input", i)))
        dims.append(d)
    if isinstance(batch, int) and batch < 1:
        raise SpecError("spec-range", f"batch: a batch has at least 1 sample, got {batch}", source.pos(("batch",)))
    if isinstance(batch, str) and not SYMBOL.match(batch):
        raise SpecError("spec-symbol", f"batch: {batch!r} is neither a size nor a symbol name", source.pos(("batch",)))
    if isinstance(dims[0], str):
        raise SpecError("spec-symbol", "the channel count must be a number (only spatial sizes and the batch may be symbols)", source.pos(("input", 0)))
    return params, tuple(dims), batch


def _resolve_top(value: Any, params: dict[str, Any], source: Source, path: Path) -> Any:
    """``input: [3, "${resolution}", "${resolution}"]``: a top-level size given by a parameter."""
    if not (isinstance(value, str) and "$" in value):
        return value
    from convcalc.spec._expr import ExprError, substitute

    try:
        result = substitute(value, params)
    except ExprError as exc:
        raise SpecError("spec-expression", exc.message, source.pos(path)) from None
    if not isinstance(result, int) or isinstance(result, bool):
        raise SpecError("spec-type", f"{'.'.join(map(str, path))}: {value!r} gives {result!r}, not a whole size", source.pos(path))
    return result


def load_spec(text: str, file: str = "<spec>") -> Spec:
    """Parse and validate a spec's text. Raises :class:`SpecError` with the position of the fault."""
    read = stored_reading(text, file)  # a built-in's text: read already
    if read is None:
        from convcalc.spec._yaml import load_yaml

        read = load_yaml(text, file)
    data, source = read
    return parse_spec(data, source)
