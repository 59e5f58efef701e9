"""Export a spec as readable PyTorch source: ``export_torch(spec, report)``.

How the code is laid out
- One ``nn.Module`` class per block definition (``blocks:``), named after it in CamelCase. Its
  constructor takes the channel count entering the block and the block's parameters; the spec's
  expressions (``${width * 4}``) become Python expressions, ``repeat`` a loop and ``when`` a
  condition, so the class builds any instance of the block, not only the ones the spec uses.
- One class for the whole network, named after the spec, with the spec's values written out.
- A part of the spec that is a plain chain (each layer reads only the one before) becomes an
  ``nn.Sequential``; everything else (residual adds, parallel branches, named tensors, merges) is
  written out in ``forward``, one statement per step, following the graph.
- Attributes take the spec's names (made into identifiers); unnamed layers get a short name from
  their kind (``conv``, ``bn``, ``fc``), numbered within the class when there are several.
- A repeated residual, parallel or non-chain ``seq`` becomes a class of its own (the loop needs a
  module); its constructor takes the block parameters it uses.

Translations that PyTorch has no single module for (each is checked by the parity tests)
- ``padding: same`` at stride 1 is PyTorch's own ``padding="same"``. At a larger stride it is
  TensorFlow's rule, which PyTorch lacks: an explicit ``SamePad`` (``F.pad`` with the TensorFlow
  split, computed from the input size) before a convolution with no padding. ``[before, after]``
  pairs that differ become an explicit ``nn.ZeroPad{n}d`` (or the padding mode's pad module).
- ``linear`` with ``axis: channels`` and ``layer_norm`` without ``normalized_shape`` act on the
  channel vector at every position: the module runs channels-last (``ChannelsLast``), as
  ConvNeXt does.
- ``layer_scale`` is a ``(C, 1, 1)`` parameter multiplied in (``LayerScale``); ``center_crop``
  and ``concat`` with ``crop: center`` slice (``center_crop``); global pools are adaptive pools to
  1, then ``nn.Flatten`` unless ``keepdim``.
- convcalc counts axes per sample (0 is the channels); PyTorch puts the batch first, so
  ``flatten``'s ``start_dim`` and ``softmax``'s ``dim`` shift by one.

A construct that cannot be written this way raises :class:`UsageError` (``export-unsupported``)
at its position in the spec; nothing is dropped silently. ``export_torch`` also maps every report
row to the module that computes it (``None`` for a merge or a crop written in ``forward``), by
walking the spec the way the engine does; the parity tests hook those modules.
"""

from __future__ import annotations

import ast
import copy
import keyword
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Optional

from convcalc import __version__
from convcalc.spec._expr import _INNER, _WHOLE, substitute, truthy
from convcalc.spec._yaml import Path
from convcalc.spec.model import BLOCK_INPUT, META_KEYS
from convcalc.errors import Position, UsageError
from convcalc.kinds import ALIASES, KINDS
from convcalc.report import Report
from convcalc.spec import Spec

__all__ = ["TorchExport", "export_torch", "torch_source"]

MERGES = ("add", "concat", "multiply")
STRUCTURAL = ("seq", "residual", "parallel")
PLACEHOLDER = "\x01"  # the channel count entering one repetition, while a loop body is written
TOKEN = re.compile("\x00(\\d+)\x00")  # an attribute name, chosen once its class is complete

# Every attribute of nn.Module (torch 2.x): a layer named like one would shadow it.
_MODULE_ATTRS = frozenset(
    "add_module apply bfloat16 buffers call_super_init children compile cpu cuda double "
    "dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter "
    "get_submodule half ipu load_state_dict modules mtia named_buffers named_children named_modules "
    "named_parameters parameters register_backward_hook register_buffer register_forward_hook "
    "register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook "
    "register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module "
    "register_parameter register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ "
    "set_extra_state set_submodule share_memory state_dict to to_empty train training type xpu "
    "zero_grad out_channels".split()
)
_MODULE_NAMES = frozenset({"torch", "nn", "F", "self", "x", "range", "min", "max", "super"})

_BASES = {
    "conv": "conv", "conv_transpose": "upconv", "max_pool": "maxpool", "avg_pool": "avgpool",
    "adaptive_avg_pool": "avgpool", "adaptive_max_pool": "maxpool", "global_avg_pool": "avgpool",
    "global_max_pool": "maxpool", "linear": "fc", "batch_norm": "bn", "layer_norm": "norm",
    "group_norm": "norm", "local_response_norm": "lrn", "zero_pad": "pad", "center_crop": "crop",
}
_ACTIVATIONS = {
    "relu": ("ReLU", ()), "relu6": ("ReLU6", ()), "leaky_relu": ("LeakyReLU", ("negative_slope",)),
    "elu": ("ELU", ("alpha",)), "gelu": ("GELU", ("approximate",)), "silu": ("SiLU", ()),
    "sigmoid": ("Sigmoid", ()), "tanh": ("Tanh", ()), "hardswish": ("Hardswish", ()),
    "hardsigmoid": ("Hardsigmoid", ()),
}
_PAD_MODULES = {"zeros": "ZeroPad", "reflect": "ReflectionPad", "replicate": "ReplicationPad", "circular": "CircularPad"}
_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}

_HELPERS = {
    "SamePad": '''
class SamePad(nn.Module):
    """TensorFlow's 'same' padding, which PyTorch's convolutions lack at stride > 1.

    out = ceil(in / stride): the total padding max((out - 1) * stride + dilation * (kernel - 1) + 1 - in, 0)
    is split with the odd pixel after (bottom / right). It depends on the input size, so it is
    computed in forward.
    """

    def __init__(self, kernel_size, stride, dilation=1, mode="constant"):
        super().__init__()
        self.kernel_size, self.stride, self.dilation, self.mode = kernel_size, stride, dilation, mode

    def forward(self, x):
        rank = x.dim() - 2
        per_axis = [v if isinstance(v, (tuple, list)) else (v,) * rank for v in (self.kernel_size, self.stride, self.dilation)]
        pads = []
        for axis in reversed(range(rank)):  # F.pad lists the last axis first
            size, (k, s, d) = x.shape[2 + axis], (v[axis] for v in per_axis)
            total = max((-(-size // s) - 1) * s + d * (k - 1) + 1 - size, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads, mode=self.mode)
''',
    "ChannelsLast": '''
class ChannelsLast(nn.Module):
    """Apply a module to the channel vector at every position: (N, C, *S) -> (N, *S, C) and back."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return self.module(x.movedim(1, -1)).movedim(-1, 1)
''',
    "LayerScale": '''
class LayerScale(nn.Module):
    """A learned per-channel scale (ConvNeXt): x * gamma, gamma of shape (C, 1, ..., 1)."""

    def __init__(self, channels, init=1e-6, spatial_dims=2):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels,) + (1,) * spatial_dims, float(init)))

    def forward(self, x):
        return x * self.gamma
''',
    "center_crop": '''
def center_crop(x, size):
    """Crop the trailing spatial axes to size, centred; an odd difference leaves the extra row at the end."""
    for axis, want in enumerate(size, start=x.dim() - len(size)):
        x = x.narrow(axis, (x.shape[axis] - want) // 2, want)
    return x
''',
    "CenterCrop": '''
class CenterCrop(nn.Module):
    """Centre crop of the spatial axes to a fixed size."""

    def __init__(self, size):
        super().__init__()
        self.size = tuple(size)

    def forward(self, x):
        return center_crop(x, self.size)
''',
    "crop_to_smallest": '''
def crop_to_smallest(tensors):
    """Centre-crop every tensor to the smallest spatial size among them (U-Net's crop-and-concat)."""
    size = [min(sizes) for sizes in zip(*(t.shape[2:] for t in tensors))]
    return [center_crop(t, size) for t in tensors]
''',
}
_HELPER_NEEDS = {"CenterCrop": ("center_crop",), "crop_to_smallest": ("center_crop",)}


@dataclass(frozen=True)
class TorchExport:
    """The source of a module, its class name, and for each report row the qualified name of the
    module that computes it (``None`` for a merge or crop written in ``forward``)."""

    source: str
    class_name: str
    modules: tuple[Optional[str], ...]


def export_torch(spec: Spec, report: Report) -> TorchExport:
    """Write ``spec`` (analysed as ``report``) as a PyTorch module. Raises :class:`UsageError`
    (``export-unsupported``) at a construct that cannot be exported."""
    writer = _Writer(spec, report)
    source = writer.write()
    modules = _Mapper(spec, report, writer.placements, writer.checks).run()
    return TorchExport(source, writer.root_name, modules)


def torch_source(spec: Spec) -> tuple[str, str]:
    """The source and class name, without an analysis (so for a spec convcalc rejects, too: the
    parity tests ask PyTorch about it). A size only the analysis knows (the features after a
    ``flatten``, the last axis of ``linear``) is an ``export-unsupported`` error here."""
    writer = _Writer(spec, None)
    return writer.write(), writer.root_name


# -- expressions: spec values as Python ASTs ----------------------------------------------------

def _const(value: Any) -> ast.expr:
    if isinstance(value, (list, tuple)):
        return ast.Tuple([_const(v) for v in value], ast.Load())
    return ast.Constant(value)


def _render(node: ast.expr) -> str:
    return ast.unparse(node)


def _atom(node: ast.expr) -> str:
    """The expression as text that can stand inside a larger one: ``(a if c else b)``."""
    text = _render(node)
    return text if isinstance(node, (ast.Name, ast.Constant, ast.Attribute, ast.Call)) else f"({text})"


def _same(a: ast.expr, b: ast.expr) -> bool:
    return ast.dump(a) == ast.dump(b)


def _names(node: ast.AST) -> set[str]:
    calls = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and id(n) not in calls}


def _fold(node: ast.expr) -> ast.expr:
    """Evaluate an expression without free names (``64 * 4`` -> ``256``); leave others alone."""
    if _names(node) or not isinstance(node, (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call)):
        return node
    try:
        value = eval(compile(ast.Expression(ast.fix_missing_locations(node)), "<spec>", "eval"), {"__builtins__": {}}, {"min": min, "max": max})
    except (ArithmeticError, TypeError, ValueError):  # stays as written; PyTorch reports it where it runs
        return node
    return _const(value) if isinstance(value, (int, float, bool, str, tuple)) else node


class _Rename(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, ast.expr]):
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return self.mapping.get(node.id, node)

    def visit_Call(self, node: ast.Call) -> ast.expr:  # min / max are functions, not parameters
        node.args = [self.visit(a) for a in node.args]
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.op, ast.Div):  # the spec's `/` divides exactly, to an int
            node.op = ast.FloorDiv()
        return node


def _substitute(node: ast.expr, mapping: dict[str, ast.expr]) -> ast.expr:
    return _fold(_Rename(mapping).visit(copy.deepcopy(node)))


def _if(cond: ast.expr, then: ast.expr, other: ast.expr) -> ast.expr:
    if _same(then, other):
        return then
    return ast.IfExp(cond, then, other)


def _sum(nodes: list[ast.expr]) -> ast.expr:
    total = nodes[0]
    for n in nodes[1:]:
        total = _fold(ast.BinOp(total, ast.Add(), n))
    return total


def _broadcast(nodes: list[ast.expr]) -> ast.expr:
    """Channels of a broadcasting product: equal, or 1 on one side; ``max`` says both."""
    distinct = []
    for n in nodes:
        if not any(_same(n, d) for d in distinct):
            distinct.append(n)
    return distinct[0] if len(distinct) == 1 else _fold(ast.Call(ast.Name("max", ast.Load()), distinct, []))


def _is_expr(raw: Any) -> bool:
    if isinstance(raw, str):
        return "$" in raw
    if isinstance(raw, list):
        return any(_is_expr(v) for v in raw)
    return False


def _spec_names(raw: Any) -> list[str]:
    """Parameter names a raw spec value refers to, in order of appearance."""
    found: list[str] = []
    if isinstance(raw, str) and "$" in raw:
        whole = _WHOLE.match(raw)
        sources = [whole.group("expr") or whole.group("name")] if whole else _INNER.findall(raw)
        for src in sources:
            try:
                tree = ast.parse(src.strip(), mode="eval")
            except SyntaxError:
                continue
            found += [n for n in sorted(_names(tree), key=src.find) if n not in found]
    elif isinstance(raw, list):
        for v in raw:
            found += [n for n in _spec_names(v) if n not in found]
    elif isinstance(raw, dict):
        for v in raw.values():
            found += [n for n in _spec_names(v) if n not in found]
    return found


# -- naming -------------------------------------------------------------------------------------

def _identifier(text: str, fallback: str) -> str:
    name = re.sub(r"\W+", "_", text, flags=re.ASCII).strip("_")
    if not name:
        name = fallback
    if name[0].isdigit():
        name = f"{fallback}_{name}"
    if keyword.iskeyword(name) or name in _MODULE_ATTRS or name in _MODULE_NAMES:
        name += "_"
    return name


def _camel(text: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", text)
    name = "".join(w[0].upper() + w[1:] for w in words) or "Net"
    return f"Net{name}" if name[0].isdigit() else name


def _base(kind: str) -> str:
    stem = re.sub(r"\d+d$", "", kind)
    return _BASES.get(stem, stem)


def _indent(text: str, levels: int = 1) -> str:
    pad = "    " * levels
    return "\n".join(pad + line if line else line for line in text.split("\n"))


def _call(func: str, args: list[str], comments: Optional[list[Optional[str]]] = None) -> str:
    """``func(a, b)`` on one line when short, else one argument per line (with comments)."""
    comments = comments or [None] * len(args)
    one_line = f"{func}({', '.join(args)})"
    if len(one_line) <= 96 and "\n" not in one_line and not any(comments):
        return one_line
    lines = [f"{func}("]
    for arg, comment in zip(args, comments):
        lines.append(_indent(f"{arg},") + (f"  # {comment}" if comment else ""))
    return "\n".join(lines) + "\n)"


# -- the code being written ---------------------------------------------------------------------

@dataclass
class _T:
    """A tensor in ``forward``: the variable holding it, its channels (as an expression in the
    class's parameters) and its number of spatial axes."""

    var: str
    channels: ast.expr
    rank: int


@dataclass
class _Mod:
    """A module constructor expression, the ``__init__`` statements it needs first, what comes out,
    and where the items it contains sit, relative to it."""

    expr: str
    channels: ast.expr
    rank: int
    prelude: list[str] = field(default_factory=list)
    places: list[tuple[Path, Optional[str], bool]] = field(default_factory=list)
    bound: Optional[str] = None  # the prelude's last line binds expr, a local, to a constructor call


@dataclass(frozen=True)
class _Placement:
    qual: Optional[str]  # the item's module, relative to the enclosing frame (a class instance or repetition)
    repeat: bool = False  # qual is a container whose children are the repetitions


@dataclass
class _ClassInfo:
    name: str
    params: list[tuple[str, str, Any]]  # (spec name, Python name, default or None when required)
    out: Optional[ast.expr]  # output channels in the parameters; None: read `.out_channels`
    rank: int


class _Class:
    """One class being written: its ``__init__`` and ``forward`` lines and its attribute names."""

    def __init__(self, writer: _Writer, name: str, doc: str, params: list[tuple[str, str, Any]], in_param: bool):
        self.writer, self.name, self.doc, self.params, self.in_param = writer, name, doc, params, in_param
        self.init: list[str] = []
        self.forward: list[str] = []
        self.init_depth = 0
        self.forward_depth = 0
        self.requests: list[tuple[str, str, bool]] = []  # (token, wanted name, explicit)
        self.flags: dict[str, str] = {}  # a condition's dump -> the attribute holding it
        self.flag_lines: list[str] = []  # set first in __init__: they read only the parameters
        self.init_locals = {py for _, py, _ in params} | {"in_channels"} | writer.module_names
        self.forward_locals = {"x"} | writer.module_names

    def attr(self, wanted: str, explicit: bool) -> str:
        token = f"\x00{len(self.writer.tokens)}\x00"
        self.writer.tokens[token] = ""
        self.requests.append((token, wanted, explicit))
        return token

    def flag(self, cond: ast.expr, wanted: str) -> str:
        """``self.<flag>``: a ``when`` condition, computed once in ``__init__``, read in ``forward``."""
        key = ast.dump(cond)
        if key not in self.flags:
            self.flags[key] = self.attr(wanted, False)
            self.flag_lines.append(f"self.{self.flags[key]} = {_render(cond)}")
        return self.flags[key]

    def fresh(self, base: str, where: str) -> str:
        taken = self.init_locals if where == "init" else self.forward_locals
        name, i = base, 2
        while name in taken or name in self.writer.class_names:
            name, i = f"{base}{i}", i + 1
        taken.add(name)
        self.writer.all_locals.add(name)
        return name

    def add_init(self, text: str) -> None:
        self.init.append(_indent(text, self.init_depth))

    def add_forward(self, text: str) -> None:
        self.forward.append(_indent(text, self.forward_depth))

    @contextmanager
    def guarded(self, init_header: Optional[str], forward_header: Optional[str]) -> Iterator[None]:
        """Lines written inside run only under a condition (``when``)."""
        marks = (len(self.init), len(self.forward))
        if init_header:
            self.add_init(init_header)
            self.init_depth += 1
        if forward_header:
            self.add_forward(forward_header)
            self.forward_depth += 1
        yield
        if init_header:
            self.init_depth -= 1
            if len(self.init) == marks[0] + 1:
                self.init.pop()
        if forward_header:
            self.forward_depth -= 1
            if len(self.forward) == marks[1] + 1:
                self.forward.append(_indent("pass", self.forward_depth + 1))

    def resolve_names(self) -> None:
        taken: set[str] = set()
        explicit = [(t, w) for t, w, e in self.requests if e]
        implicit = [(t, w) for t, w, e in self.requests if not e]
        for token, wanted in explicit:
            name, i = wanted, 2
            while name in taken:
                name, i = f"{wanted}_{i}", i + 1
            taken.add(name)
            self.writer.tokens[token] = name
        counts: dict[str, int] = {}
        for _, wanted in implicit:
            counts[wanted] = counts.get(wanted, 0) + 1
        numbers: dict[str, int] = {}
        for token, wanted in implicit:
            while True:
                numbers[wanted] = numbers.get(wanted, 0) + 1
                number = f"_{numbers[wanted]}" if wanted[-1].isdigit() else str(numbers[wanted])
                name = wanted if counts[wanted] == 1 and numbers[wanted] == 1 else f"{wanted}{number}"
                if name not in taken:
                    break
            taken.add(name)
            self.writer.tokens[token] = name

    def text(self, out: _T, out_channels: Optional[ast.expr]) -> str:
        signature = ["self"]
        if self.in_param:
            signature.append("in_channels")
        required = [(py, d) for _, py, d in self.params if d is None]
        optional = [(py, d) for _, py, d in self.params if d is not None]
        signature += [py for py, _ in required] + [f"{py}={_render(_const(d))}" for py, d in optional]
        lines = [f"class {self.name}(nn.Module):", _indent(_docstring(self.doc)), ""]
        lines.append(_indent(f"def __init__({', '.join(signature)}):"))
        body = ["super().__init__()", *self.flag_lines, *self.init]
        if out_channels is not None:
            body.append(f"self.out_channels = {_render(out_channels)}")
        lines += [_indent(line, 2) for line in body]
        lines += ["", _indent("def forward(self, x):")]
        lines += [_indent(line, 2) for line in [*self.forward, f"return {out.var}"]]
        return "\n".join(lines)


def _docstring(text: str) -> str:
    text = text.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if "\n" in text:
        return f'"""{text}\n"""'
    return f'"""{text}"""'


@dataclass
class _Ctx:
    """Where an item is being written: the class, the spec names in scope, the named tensors."""

    cls: _Class
    names: dict[str, ast.expr]  # spec parameter -> its expression in this class
    scope: dict[str, _T]
    hidden: dict[str, str] = field(default_factory=dict)  # ids defined inside a repeated item
    assumed: list[tuple[str, bool]] = field(default_factory=list)  # conditions known here, as (dump, truth)
    prefix: str = ""  # of attribute names, inside a named group written out in place
    block_input: bool = False  # `block_input` names the tensor entering this class's forward
    block_rank: int = 0


@dataclass(frozen=True)
class _Item:
    kind: str  # as written (an alias stays an alias)
    args: Any
    meta: dict[str, Any]
    path: Path
    kind_path: Path

    @property
    def canonical(self) -> str:
        return ALIASES.get(self.kind, self.kind)


def _split(raw: Any, path: Path) -> _Item:
    if isinstance(raw, str):
        return _Item(raw, None, {}, path, path)
    kind = next(k for k in raw if k not in META_KEYS)
    meta = {k: raw[k] for k in META_KEYS if k in raw}
    return _Item(str(kind), raw[kind], meta, path, (*path, kind))


class _Writer:
    def __init__(self, spec: Spec, report: Optional[Report]):
        self.spec, self.report = spec, report
        self.tokens: dict[str, str] = {}
        self.placements: dict[Path, _Placement] = {}
        self.checks: dict[Path, str] = {}
        self.helpers: set[str] = set()
        self.uses_functional = False
        self.infos: dict[tuple, _ClassInfo] = {}
        self.writing: set[tuple] = set()
        self.classes: list[str] = []
        self.all_locals: set[str] = set()
        self.class_names: set[str] = set()
        self.module_names = set(_MODULE_NAMES) | set(_HELPERS)
        self.root_name = self.class_name(spec.name)
        self.block_names = {block: self.class_name(block) for block in spec.blocks}
        self.rows_at: dict[Position, list] = {}
        for row in report.rows if report is not None else ():
            self.rows_at.setdefault(row.pos, []).append(row)

    # -- errors and names -----------------------------------------------------------------------
    def unsupported(self, message: str, path: Path, hint: Optional[str] = None) -> UsageError:
        return UsageError("export-unsupported", f"cannot export to PyTorch: {message}", self.spec.pos(path), hint)

    def class_name(self, wanted: str) -> str:
        name, i = _camel(wanted), 2
        base = name
        while name in self.class_names or name in self.module_names or name in self.all_locals:
            name, i = f"{base}{i}", i + 1
        self.class_names.add(name)
        return name

    def place(self, path: Path, qual: Optional[str], repeat: bool = False) -> None:
        self.placements[path] = _Placement(qual, repeat)

    def value(self, raw: Any, ctx: _Ctx, path: Path) -> ast.expr:
        """A raw spec value as a Python expression in the class being written."""
        if isinstance(raw, list):
            return _fold(ast.Tuple([self.value(v, ctx, (*path, i)) for i, v in enumerate(raw)], ast.Load()))
        if not (isinstance(raw, str) and "$" in raw):
            return _const(raw)
        whole = _WHOLE.match(raw)
        if whole:
            return self.expression(whole.group("expr") or whole.group("name"), ctx, path)
        parts: list[ast.expr] = []
        last = 0
        for m in _INNER.finditer(raw):
            if m.start() > last:
                parts.append(ast.Constant(raw[last : m.start()]))
            parts.append(ast.FormattedValue(self.expression(m.group(1), ctx, path), -1, None))
            last = m.end()
        if last < len(raw):
            parts.append(ast.Constant(raw[last:]))
        return ast.JoinedStr(parts)

    def expression(self, source: str, ctx: _Ctx, path: Path) -> ast.expr:
        try:
            tree = ast.parse(source.strip(), mode="eval").body
        except SyntaxError:
            raise self.unsupported(f"cannot read the expression {source!r}", path) from None
        unknown = _names(tree) - set(ctx.names)
        if unknown:
            raise self.unsupported(f"unknown parameter {min(unknown)!r} in {source!r}", path)
        return _substitute(tree, ctx.names)

    def condition(self, item: _Item, ctx: _Ctx) -> Optional[ast.expr]:
        """The item's ``when`` as an expression; None when it always holds; False when never."""
        if "when" not in item.meta:
            return None
        cond = self.value(item.meta["when"], ctx, (*item.path, "when"))
        if isinstance(cond, ast.Constant):
            return None if cond.value else False  # type: ignore[return-value]
        known = dict(ctx.assumed).get(ast.dump(cond))
        if known is not None:
            return None if known else False  # type: ignore[return-value]
        return cond

    def count(self, item: _Item, ctx: _Ctx) -> Optional[ast.expr]:
        if "repeat" not in item.meta:
            return None
        n = self.value(item.meta["repeat"], ctx, (*item.path, "repeat"))
        return None if isinstance(n, ast.Constant) and n.value == 1 else n

    def simplify(self, node: ast.expr, ctx: _Ctx) -> ast.expr:
        """Channels under the conditions known here: ``(a if c else b)`` -> ``a`` where c holds."""
        known = dict(ctx.assumed)

        class Known(ast.NodeTransformer):
            def visit_IfExp(self, n: ast.IfExp) -> ast.expr:
                self.generic_visit(n)
                truth = known.get(ast.dump(n.test))
                if truth is not None:
                    return n.body if truth else n.orelse
                return _if(n.test, n.body, n.orelse)

        return _fold(Known().visit(copy.deepcopy(node)))

    @contextmanager
    def assuming(self, ctx: _Ctx, cond: Optional[ast.expr]) -> Iterator[None]:
        if cond is None:
            yield
            return
        implied = _implications(cond, True)
        ctx.assumed += implied
        try:
            yield
        finally:
            del ctx.assumed[-len(implied):]

    # -- the file -------------------------------------------------------------------------------
    def write(self) -> str:
        spec = self.spec
        if self.report is not None and not all(isinstance(d, int) for d in self.report.input_shape):
            raise self.unsupported(f"the input {list(self.report.input_shape)} has symbolic sizes", ("input",), "give a size with --input")
        cls = _Class(self, self.root_name, spec.description or spec.name, [], in_param=False)
        shape = self.report.input_shape if self.report is not None else spec.input
        ctx = _Ctx(cls, {}, {})
        out = self.items(spec.layers, ("layers",), _T("x", _const(shape[0]), len(shape) - 1), ctx)
        self.classes.append(self.finish(cls, out, None))
        text = "\n\n\n".join([self.header(), *self.helper_sources(), *self.classes, *self.main()]) + "\n"
        text = TOKEN.sub(lambda m: self.tokens[m.group(0)], text)
        self.placements = {
            p: _Placement(TOKEN.sub(lambda m: self.tokens[m.group(0)], pl.qual) if pl.qual else pl.qual, pl.repeat)
            for p, pl in self.placements.items()
        }
        return text

    def finish(self, cls: _Class, out: _T, out_channels: Optional[ast.expr]) -> str:
        cls.resolve_names()
        return cls.text(out, out_channels)

    def header(self) -> str:
        spec, report = self.spec, self.report
        lines = [f"{spec.name} in PyTorch, exported by convcalc {__version__} from {spec.file}.", ""]
        if report is not None:
            t = report.totals
            shape = "x".join(str(d) for d in report.input_shape)
            lines += [
                f"convcalc's counts for one {shape} input:",
                f"    output shape  {tuple(report.output_shape)}",
                f"    parameters    {t.params:,}",
                f"    MACs          {t.macs:,} (multiply-accumulates of the convolution and linear layers)",
                f"    FLOPs         {t.flops:,}",
                "",
            ]
        lines += [
            "Running this file builds the model, prints its parameter count and runs it once on a zero",
            "input. It needs only PyTorch.",
        ]
        imports = ["import torch"]
        if self.uses_functional:
            imports.append("import torch.nn.functional as F")
        imports.append("from torch import nn")
        return _docstring("\n".join(lines)) + "\n\n" + "\n".join(imports)

    def helper_sources(self) -> list[str]:
        needed = set(self.helpers)
        for name in list(needed):
            needed.update(_HELPER_NEEDS.get(name, ()))
        return [_HELPERS[name].strip("\n") for name in _HELPERS if name in needed]

    def main(self) -> list[str]:
        dims = self.report.input_shape if self.report is not None else self.spec.input
        if not all(isinstance(d, int) for d in dims):
            return []
        shape = ", ".join(str(d) for d in (1, *dims))
        return ["\n".join([
            'if __name__ == "__main__":',
            f"    model = {self.root_name}().eval()",
            '    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")',
            "    with torch.no_grad():",
            f"        output = model(torch.zeros({shape}))",
            '    print(f"output: {tuple(output.shape)}")',
        ])]

    # -- statements: items written in __init__ and forward ----------------------------------------
    def items(self, items: list, path: Path, t: _T, ctx: _Ctx) -> _T:
        for i, raw in enumerate(items):
            t = self.item(raw, (*path, i), t, ctx)
        return t

    def item(self, raw: Any, path: Path, t: _T, ctx: _Ctx) -> _T:
        item = _split(raw, path)
        cond = self.condition(item, ctx)
        if cond is False:
            return t
        src = self.lookup(item.meta["input"], t, ctx, (*path, "input")) if "input" in item.meta else t
        count = self.count(item, ctx)
        if count is not None or self.module_like(item):
            return self.module_statement(item, t, src, ctx, cond, count)
        return self.inline_statement(item, t, src, ctx, cond)

    def module_like(self, item: _Item) -> bool:
        kind = item.canonical
        if kind in self.spec.blocks:
            return True
        if kind == "seq":
            return isinstance(item.args, list) and all(self.chain_member(raw, (*item.kind_path, i)) for i, raw in enumerate(item.args))
        return kind in KINDS and kind not in MERGES

    def chain_member(self, raw: Any, path: Path) -> bool:
        item = _split(raw, path)
        if "input" in item.meta or "id" in item.meta:
            return False
        return "repeat" in item.meta or self.module_like(item)

    def module_statement(self, item: _Item, t: _T, src: _T, ctx: _Ctx, cond: Optional[ast.expr], count: Optional[ast.expr]) -> _T:
        name = item.meta.get("name")
        explicit = isinstance(name, str) and "$" not in name
        attr = ctx.cls.attr(ctx.prefix + (_identifier(name, _base(item.canonical)) if explicit else self.base(item)), explicit)
        with self.assuming(ctx, cond):
            mod = self.module(item, self.simplify(src.channels, ctx), src.rank, ctx, count)
        cls = ctx.cls
        if mod.bound is not None and mod.prelude == [f"{mod.expr} = {mod.bound}"]:  # no local: the attribute
            self_attr = ast.Attribute(ast.Name("self", ast.Load()), attr, ast.Load())
            mod = _Mod(mod.bound, _substitute(mod.channels, {mod.expr: self_attr}), mod.rank, [], mod.places)
        if cond is None:
            for line in mod.prelude:
                cls.add_init(line)
            cls.add_init(f"self.{attr} = {mod.expr}")
            cls.add_forward(f"{t.var} = self.{attr}({src.var})")
            self.define(item, _T(t.var, mod.channels, mod.rank), ctx)
        else:
            # nn.Identity() keeps a chain's shape; a layer that reads or names another tensor
            # runs only when its condition holds, as the spec's `when` skips it
            plain = "input" not in item.meta and "id" not in item.meta
            test = _render(cond) if plain else f"self.{cls.flag(cond, f'use_{_token_base(attr, item)}')}"
            otherwise = "nn.Identity()" if plain else "None"
            if not mod.prelude and "\n" not in mod.expr:
                cls.add_init(f"self.{attr} = {mod.expr} if {test} else {otherwise}")
            else:
                cls.add_init(f"if {test}:")
                cls.add_init(_indent("\n".join([*mod.prelude, f"self.{attr} = {mod.expr}"])))
                cls.add_init(f"else:\n    self.{attr} = {otherwise}")
            if plain:
                cls.add_forward(f"{t.var} = self.{attr}({t.var})")
            else:
                with cls.guarded(None, f"if {test}:"):
                    cls.add_forward(f"{t.var} = self.{attr}({src.var})")
                    self.define(item, _T(t.var, mod.channels, mod.rank), ctx)
        self.place(item.path, attr, count is not None)
        for path, qual, repeat in mod.places:
            if path != item.path:
                self.place(path, f"{attr}.{qual}" if qual else attr, repeat)
        if cond is None:
            return _T(t.var, mod.channels, mod.rank)
        if mod.rank != t.rank:
            raise self.unsupported(f"a `when` that changes the number of axes ({item.kind})", (*item.path, "when"))
        return _T(t.var, self.simplify(_if(cond, mod.channels, t.channels), ctx), t.rank)

    def base(self, item: _Item) -> str:
        kind = item.canonical
        if kind in self.spec.blocks:
            return _identifier(kind, "block")
        return {"seq": "layers", "residual": "residual", "parallel": "parallel"}.get(kind, _base(kind))

    def inline_statement(self, item: _Item, t: _T, src: _T, ctx: _Ctx, cond: Optional[ast.expr]) -> _T:
        cls = ctx.cls
        flag = None
        if cond is not None:
            name = item.meta.get("name")
            flag = cls.flag(cond, _identifier(f"use_{name}" if isinstance(name, str) and "$" not in name else f"use_{self.base(item)}", "use"))
        self.place(item.path, None)
        name = item.meta.get("name")
        prefix = ctx.prefix
        if isinstance(name, str) and "$" not in name:  # a named group's layers carry its name
            ctx.prefix = f"{prefix}{_identifier(name, 'layer')}_"
        with cls.guarded(f"if self.{flag}:" if flag else None, f"if self.{flag}:" if flag else None), self.assuming(ctx, cond):
            if src.var != t.var:
                cls.add_forward(f"{t.var} = {src.var}")
            out = self.inline(item, _T(t.var, self.simplify(src.channels, ctx), src.rank), ctx)
            ctx.prefix = prefix
            self.define(item, out, ctx)
        if cond is None:
            return out
        if out.rank != t.rank:
            raise self.unsupported(f"a `when` that changes the number of axes ({item.kind})", (*item.path, "when"))
        return _T(t.var, self.simplify(_if(cond, out.channels, t.channels), ctx), t.rank)

    def inline(self, item: _Item, t: _T, ctx: _Ctx) -> _T:
        """A seq, residual, parallel or merge written out in ``forward`` (``t`` holds its input)."""
        kind = item.canonical
        if kind in MERGES:
            return self.merge(item, t, ctx)
        if kind == "seq":
            return self.items(item.args, item.kind_path, t, ctx)
        if kind == "residual":
            return self.residual(item, t, ctx)
        if kind == "parallel":
            return self.parallel(item, t, ctx)
        raise self.unsupported(f"no PyTorch translation for {item.kind!r}", item.kind_path)

    def define(self, item: _Item, out: _T, ctx: _Ctx) -> None:
        """The item's ``id``, if it has one: a variable that keeps its output."""
        if "id" not in item.meta:
            return
        name = item.meta["id"]
        if not isinstance(name, str) or "$" in name:
            raise self.unsupported(f"a tensor id computed from parameters ({name!r})", (*item.path, "id"))
        var = ctx.scope[name].var if name in ctx.scope else ctx.cls.fresh(_identifier(name, "t"), "forward")
        ctx.cls.add_forward(f"{var} = {out.var}")
        ctx.scope[name] = _T(var, out.channels, out.rank)

    def lookup(self, name: Any, t: _T, ctx: _Ctx, path: Path) -> _T:
        """The tensor a name reads; a name given by an expression picks one at run time."""
        if isinstance(name, str) and "$" in name:
            return self.choice(self.value(name, ctx, path), t, ctx, path)
        if name == "previous":
            return t
        if isinstance(name, str) and name in ctx.scope:
            return ctx.scope[name]
        if name == BLOCK_INPUT and ctx.block_input:
            var = ctx.cls.fresh(BLOCK_INPUT, "forward")
            ctx.cls.forward.insert(0, f"{var} = x")
            ctx.scope[name] = _T(var, ast.Name("in_channels", ast.Load()), ctx.block_rank)
            return ctx.scope[name]
        if isinstance(name, str) and name in ctx.hidden:
            raise self.unsupported(f"tensor {name!r} is defined inside a repeated {ctx.hidden[name]} and read outside it", path)
        raise self.unsupported(f"tensor {name!r} is read inside a repeated item but defined outside it", path)

    def choice(self, node: ast.expr, t: _T, ctx: _Ctx, path: Path) -> _T:
        """``'a' if cond else 'b'`` as a tensor: ``(a if self.flag else b)``."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return self.lookup(node.value, t, ctx, path)
        if not isinstance(node, ast.IfExp):
            raise self.unsupported(f"a tensor name given by {_render(node)!r}", path, "use `x if condition else y` of tensor ids")
        then, other = self.choice(node.body, t, ctx, path), self.choice(node.orelse, t, ctx, path)
        flag = ctx.cls.flag(node.test, "use_" + _identifier(then.var, "input"))
        return _T(f"({then.var} if self.{flag} else {other.var})", _if(node.test, then.channels, other.channels), then.rank)

    def merge(self, item: _Item, t: _T, ctx: _Ctx) -> _T:
        args = item.args or {}
        inputs = [self.lookup(name, t, ctx, (*item.kind_path, "inputs", i)) for i, name in enumerate(args.get("inputs") or [])]
        variables = [x.var for x in inputs]
        kind = item.canonical
        if kind == "add":
            expr, channels = " + ".join(variables), inputs[0].channels
        elif kind == "multiply":
            expr, channels = " * ".join(variables), _broadcast([x.channels for x in inputs])
        else:
            expr, channels = self.concat(variables, args.get("crop", "none"), item.kind_path), _sum([x.channels for x in inputs])
        ctx.cls.add_forward(f"{t.var} = {expr}")
        return _T(t.var, self.simplify(channels, ctx), inputs[0].rank)

    def concat(self, variables: list[str], crop: Any, path: Path) -> str:
        if crop not in ("none", "center"):
            raise self.unsupported(f"crop {crop!r} given by a parameter", (*path, "crop"))
        listed = _call("", variables)[1:-1] if len(", ".join(variables)) > 70 else ", ".join(variables)
        tensors = f"[{listed}]"
        if crop == "center":
            self.helpers.add("crop_to_smallest")
            tensors = f"crop_to_smallest({tensors})"
        return f"torch.cat({tensors}, dim=1)"

    def residual(self, item: _Item, t: _T, ctx: _Ctx) -> _T:
        args = item.args
        saved = ctx.cls.fresh("identity", "forward")
        ctx.cls.add_forward(f"{saved} = {t.var}")
        body = self.items(args.get("body") or [], (*item.kind_path, "body"), t, ctx)
        shortcut, _ = self.branch(args.get("shortcut") or [], (*item.kind_path, "shortcut"), _T(saved, t.channels, t.rank), ctx, "shortcut", False, lambda: saved)
        ctx.cls.add_forward(f"{t.var} = {body.var} + {shortcut}")
        return _T(t.var, body.channels, body.rank)

    def parallel(self, item: _Item, t: _T, ctx: _Ctx) -> _T:
        args = item.args
        branches = args["branches"]
        named = isinstance(branches, dict)
        entries = list(branches.items()) if named else [(f"branch{j + 1}", b) for j, b in enumerate(branches)]
        exprs, outs = [], []
        for j, (name, items) in enumerate(entries):
            ident = _identifier(str(name), "branch")
            expr, out = self.branch(
                items, (*item.kind_path, "branches", name if named else j), t, ctx, ident, True,
                lambda ident=ident: ctx.cls.fresh(ident, "forward"),
            )
            exprs.append(expr)
            outs.append(out)
        merge = args["merge"]
        if merge == "concat":
            expr, channels = self.concat(exprs, args.get("crop", "none"), item.kind_path), _sum([o.channels for o in outs])
        elif merge == "add":
            expr, channels = " + ".join(exprs), outs[0].channels
        else:
            expr, channels = " * ".join(exprs), _broadcast([o.channels for o in outs])
        ctx.cls.add_forward(f"{t.var} = {expr}")
        return _T(t.var, self.simplify(channels, ctx), outs[0].rank)

    def branch(self, items: list, path: Path, src: _T, ctx: _Ctx, wanted: str, explicit: bool, variable) -> tuple[str, _T]:
        """A branch of a parallel or a residual's shortcut: the expression of its output."""
        if not items:
            return src.var, src
        if all(self.chain_member(raw, (*path, i)) for i, raw in enumerate(items)):
            attr = ctx.cls.attr(ctx.prefix + wanted, explicit)
            mod = self.sequential(items, path, src.channels, src.rank, ctx)
            for line in mod.prelude:
                ctx.cls.add_init(line)
            ctx.cls.add_init(f"self.{attr} = {mod.expr}")
            for p, qual, repeat in mod.places:
                self.place(p, f"{attr}.{qual}", repeat)
            return f"self.{attr}({src.var})", _T("", mod.channels, mod.rank)
        var = variable()
        if var != src.var:
            ctx.cls.add_forward(f"{var} = {src.var}")
        out = self.items(items, path, _T(var, src.channels, src.rank), ctx)
        return out.var, out

    # -- expressions: items as module constructors -----------------------------------------------
    def module(self, item: _Item, c_in: ast.expr, rank: int, ctx: _Ctx, count: Optional[ast.expr]) -> _Mod:
        if count is not None:
            return self.repeated(item, c_in, rank, ctx, count)
        kind = item.canonical
        if kind in self.spec.blocks:
            mod = self.block_use(item, c_in, rank, ctx)
            mod.places.append((item.path, "", False))
            return mod
        if kind == "seq":
            mod = self.sequential(item.args, item.kind_path, c_in, rank, ctx)
            mod.places.insert(0, (item.path, "", False))
            return mod
        return self.leaf(item, c_in, rank, ctx)

    def sequential(self, items: list, path: Path, c_in: ast.expr, rank: int, ctx: _Ctx) -> _Mod:
        exprs, comments, prelude, places = [], [], [], []
        channels = c_in
        index = 0
        for i, raw in enumerate(items):
            child = _split(raw, (*path, i))
            cond = self.condition(child, ctx)
            if cond is False:
                continue
            with self.assuming(ctx, cond):
                mod = self.module(child, self.simplify(channels, ctx), rank, ctx, self.count(child, ctx))
            expr = mod.expr
            if cond is not None:
                if mod.prelude:
                    prelude += [f"if {_render(cond)}:", _indent("\n".join(mod.prelude))]
                expr = f"{mod.expr} if {_render(cond)} else nn.Identity()" if "\n" not in mod.expr else f"(\n{_indent(mod.expr)}\n    if {_render(cond)}\n    else nn.Identity()\n)"
                if mod.rank != rank:
                    raise self.unsupported(f"a `when` that changes the number of axes ({child.kind})", (*child.path, "when"))
                channels = self.simplify(_if(cond, mod.channels, channels), ctx)
            else:
                prelude += mod.prelude
                channels = mod.channels
            rank = mod.rank
            exprs.append(expr)
            name = child.meta.get("name")
            comments.append(name if isinstance(name, str) else None)
            places += [(p, f"{index}.{q}" if q else str(index), r) for p, q, r in mod.places]
            index += 1
        return _Mod(_call("nn.Sequential", exprs, comments), channels, rank, prelude, places)

    def repeated(self, item: _Item, c_in: ast.expr, rank: int, ctx: _Ctx, count: ast.expr) -> _Mod:
        kind = item.canonical
        if kind in MERGES:
            raise self.unsupported(f"a repeated {kind}", (*item.path, "repeat"))
        marker = ast.Name(PLACEHOLDER, ast.Load())
        if self.module_like(item):
            rep = self.module(item, marker, rank, ctx, None)
        else:
            rep = self.composite(item, marker, rank, ctx)
        if rep.rank != rank:
            raise self.unsupported(f"a repeated {item.kind} that changes the number of axes", (*item.path, "repeat"))
        for path, qual, repeat in rep.places:
            if path != item.path:
                self.place(path, qual, repeat)
        places = [(item.path, "", True)]
        n = _render(count)
        after_first = _substitute(rep.channels, {PLACEHOLDER: c_in})
        if not rep.prelude and _same(after_first, c_in) and (_same(rep.channels, marker) or PLACEHOLDER not in _names(rep.channels)):
            # every repetition takes the same width
            expr = rep.expr.replace(PLACEHOLDER, _atom(c_in))
            return _Mod(f"nn.Sequential(*[{expr} for _ in range({n})])", c_in, rank, [], places)
        layers, c = ctx.cls.fresh("layers", "init"), ctx.cls.fresh("c", "init")
        after = _substitute(rep.channels, {PLACEHOLDER: ast.Name(c, ast.Load())})
        body = [*rep.prelude, f"{layers}.append({rep.expr})", f"{c} = {_render(after)}"]
        prelude = [f"{layers} = []", f"{c} = {_render(c_in)}", f"for _ in range({n}):", _indent("\n".join(body).replace(PLACEHOLDER, c))]
        out = ast.Name(c, ast.Load()) if PLACEHOLDER in _names(rep.channels) else rep.channels
        return _Mod(f"nn.Sequential(*{layers})", out, rank, prelude, places)

    def block_use(self, item: _Item, c_in: ast.expr, rank: int, ctx: _Ctx) -> _Mod:
        info = self.block_class(item.canonical, rank, item.kind_path)
        given = item.args or {}
        args = {spec_name: self.value(given[spec_name], ctx, (*item.kind_path, spec_name)) for spec_name, _, _ in info.params if spec_name in given}
        return self.instance(info, c_in, args, ctx)

    def instance(self, info: _ClassInfo, c_in: ast.expr, args: dict[str, ast.expr], ctx: _Ctx) -> _Mod:
        call = [_render(c_in)] + [f"{py}={_render(args[s])}" for s, py, _ in info.params if s in args]
        expr = _call(info.name, call)
        if info.out is None:  # its width is known once it is built: `.out_channels`
            var = ctx.cls.fresh(_identifier(re.sub(r"(?<!^)(?=[A-Z])", "_", info.name).lower(), "block"), "init")
            return _Mod(var, ast.Attribute(ast.Name(var, ast.Load()), "out_channels", ast.Load()), info.rank, [f"{var} = {expr}"], [], expr)
        values = {"in_channels": c_in}
        for spec_name, py, default in info.params:
            values[py] = args[spec_name] if spec_name in args else _const(default)
        return _Mod(expr, self.simplify(_substitute(info.out, values), ctx), info.rank, [], [])

    def block_class(self, name: str, rank: int, path: Path) -> _ClassInfo:
        key = ("block", name, rank)
        if key in self.infos:
            return self.infos[key]
        if key in self.writing:
            raise self.unsupported(f"block {name!r} uses itself", path)
        block = self.spec.blocks[name]
        # in_channels is the channel count entering the block, whatever a use gives
        params = [(s, _param(s), default) for s, default in block.params.items() if s != "in_channels"]
        params.sort(key=lambda p: p[2] is not None)
        used = any(k[0] == "block" and k[1] == name for k in self.infos)
        cls_name = self.class_name(f"{name}_{rank}d") if used else self.block_names[name]
        names = {"in_channels": ast.Name("in_channels", ast.Load())}
        names.update({s: ast.Name(py, ast.Load()) for s, py, _ in params})
        info = self.write_class(key, cls_name, block.description or f"The spec's block `{name}`.", params, names, rank,
                                lambda ctx, t: self.items(block.layers, ("blocks", name, "layers"), t, ctx))
        return info

    def write_class(self, key: tuple, name: str, doc: str, params: list, names: dict[str, ast.expr], rank: int, body) -> _ClassInfo:
        self.writing.add(key)
        cls = _Class(self, name, doc, params, in_param=True)
        ctx = _Ctx(cls, names, {}, block_input=key[0] == "block", block_rank=rank)
        out = body(ctx, _T("x", ast.Name("in_channels", ast.Load()), rank))
        self.writing.discard(key)
        allowed = {"in_channels"} | {py for _, py, _ in params}
        opaque = not _names(out.channels) <= allowed
        self.classes.append(self.finish(cls, out, out.channels if opaque else None))
        info = _ClassInfo(name, params, None if opaque else out.channels, out.rank)
        self.infos[key] = info
        return info

    def composite(self, item: _Item, c_in: ast.expr, rank: int, ctx: _Ctx) -> _Mod:
        """A repeated residual, parallel or seq with graph edges: a class of its own."""
        key = ("composite", item.path, rank)
        free = [n for n in _spec_names(item.args) if n in ctx.names]
        if key not in self.infos:
            params = [(s, "block_in_channels" if s == "in_channels" else _param(s), None) for s in free]
            names = {s: ast.Name(py, ast.Load()) for s, py, _ in params}
            name = item.meta.get("name")
            wanted = name if isinstance(name, str) and "$" not in name else f"{ctx.cls.name}_{item.canonical}"
            body_item = _Item(item.kind, item.args, {}, item.path, item.kind_path)
            self.write_class(key, self.class_name(wanted), f"One repetition of {item.kind} `{'.'.join(map(str, item.path))}`.", params, names, rank,
                             lambda inner, t: self.inline(body_item, t, inner))
        ctx.hidden.update({name: item.kind for name in _ids_in(item.args)})
        info = self.infos[key]
        mod = self.instance(info, c_in, {s: ctx.names[s] for s in free}, ctx)
        mod.places.append((item.path, "", False))
        return mod

    # -- leaves -----------------------------------------------------------------------------------
    def leaf(self, item: _Item, c_in: ast.expr, rank: int, ctx: _Ctx) -> _Mod:
        kind = item.canonical
        args = item.args if isinstance(item.args, dict) else {}
        a = _Args(self, args, ctx, item.kind_path)
        expr, channels, out_rank = self.leaf_expr(kind, item, a, c_in, rank)
        return _Mod(expr, self.simplify(channels, ctx), out_rank, [], [(item.path, "", False)])

    def leaf_expr(self, kind: str, item: _Item, a: _Args, c_in: ast.expr, rank: int) -> tuple[str, ast.expr, int]:
        c = _render(c_in)
        if kind.startswith("conv_transpose"):
            n = int(kind[-2])
            keys = ("stride", "padding", "output_padding", "groups", "bias", "dilation")
            return f"nn.ConvTranspose{n}d({', '.join([c, a.text('out_channels'), *a.kw('kernel_size', *keys)])})", a.node("out_channels"), n
        if kind.startswith("conv"):
            return self.conv(kind, item, a, c), a.node("out_channels"), int(kind[-2])
        if kind.startswith(("max_pool", "avg_pool")):
            return self.pool(kind, item, a), c_in, rank
        if kind.startswith("adaptive_"):
            cls = "AdaptiveAvgPool" if "avg" in kind else "AdaptiveMaxPool"
            return f"nn.{cls}{kind[-2]}d({a.text('output_size')})", c_in, rank
        if kind.startswith("global_"):
            return self.global_pool(kind, item, a, c_in, rank)
        if kind == "linear":
            return self.linear(item, a, c_in, rank)
        if kind == "flatten":
            return self.flatten(item, a, c_in, rank)
        if kind.startswith("batch_norm"):
            return f"nn.BatchNorm{kind[-2]}d({', '.join([c, *a.kw('eps', 'momentum', 'affine', 'track_running_stats')])})", c_in, rank
        if kind == "layer_norm":
            return self.layer_norm(a, c_in, rank)
        if kind == "group_norm":
            return f"nn.GroupNorm({', '.join([a.text('num_groups'), c, *a.kw('eps', 'affine')])})", c_in, rank
        if kind == "local_response_norm":
            return f"nn.LocalResponseNorm({', '.join([a.text('size'), *a.kw('alpha', 'beta', 'k')])})", c_in, rank
        if kind == "layer_scale":
            self.helpers.add("LayerScale")
            extra = [] if rank == 2 else [f"spatial_dims={rank}"]
            return f"LayerScale({', '.join([c, *a.kw('init'), *extra])})", c_in, rank
        if kind in _ACTIVATIONS:
            cls, keys = _ACTIVATIONS[kind]
            return f"nn.{cls}({', '.join(a.kw(*keys))})", c_in, rank
        if kind in ("softmax", "log_softmax"):
            dim = a.constant("dim", 0)
            cls = "Softmax" if kind == "softmax" else "LogSoftmax"
            return f"nn.{cls}(dim={dim + 1 if dim >= 0 else dim})", c_in, rank
        if kind == "dropout":
            cls = "Dropout2d" if item.kind == "dropout2d" else "Dropout"
            return f"nn.{cls}({', '.join(a.kw('p'))})", c_in, rank
        if kind == "identity":
            return "nn.Identity()", c_in, rank
        if kind == "zero_pad":
            return self.zero_pad(item, a, rank), c_in, rank
        if kind == "center_crop":
            self.helpers.add("CenterCrop")
            size = a.node("size")
            if not isinstance(size, ast.Tuple):
                size = ast.Tuple([size] * rank, ast.Load())
            return f"CenterCrop({_render(size)})", c_in, rank
        if kind == "upsample":
            return f"nn.Upsample({', '.join(a.kw('size', 'scale_factor', 'mode', 'align_corners'))})", c_in, rank
        raise self.unsupported(f"no PyTorch translation for layer kind {kind!r}", item.kind_path)

    def conv(self, kind: str, item: _Item, a: _Args, c: str) -> str:
        n = int(kind[-2])
        pad_module, padding = self.conv_padding(item, a, n)
        keys = ["stride", "dilation", "groups", "bias"] + ([] if pad_module else ["padding_mode"])
        kw = a.kw("kernel_size") + ([f"padding={padding}"] if padding else []) + a.kw(*keys)
        conv = f"nn.Conv{n}d({', '.join([c, a.text('out_channels'), *kw])})"
        return f"nn.Sequential({pad_module}, {conv})" if pad_module else conv

    def conv_padding(self, item: _Item, a: _Args, n: int) -> tuple[Optional[str], Optional[str]]:
        """(a pad module to put first, the conv's ``padding``) for the spec's ``padding``."""
        if not a.has("padding"):
            return None, None
        raw = a.raw("padding")
        mode = a.raw("padding_mode", "zeros")
        if _is_expr(raw):
            self.checks[item.path] = "conv_padding"
            return None, a.text("padding")
        if raw == "valid":
            return None, None
        if raw == "same":
            stride = a.raw("stride", 1)
            if stride == 1 or (isinstance(stride, list) and all(s == 1 for s in stride)):
                return None, '"same"'
            self.helpers.add("SamePad")
            self.uses_functional = True
            args = [a.text("kernel_size"), a.text("stride")] + (a.kw("dilation")) + ([f'mode="{_PAD_MODES[mode]}"'] if mode != "zeros" else [])
            return f"SamePad({', '.join(args)})", None
        if isinstance(raw, int) or not any(isinstance(v, list) for v in raw):
            return None, a.text("padding")
        pairs = a.pairs("padding")
        if all(_same(b, e) for b, e in pairs):
            return None, _render(ast.Tuple([b for b, _ in pairs], ast.Load()))
        return f"nn.{_PAD_MODULES[mode]}{n}d({_torch_pads(pairs)})", None

    def pool(self, kind: str, item: _Item, a: _Args) -> str:
        n = kind[-2]
        if kind.startswith("max_pool"):
            return f"nn.MaxPool{n}d({', '.join(a.kw('kernel_size', 'stride', 'padding', 'dilation', 'ceil_mode'))})"
        if n == "1" and a.has("divisor_override"):
            raise self.unsupported("divisor_override on avg_pool1d (nn.AvgPool1d has none)", (*item.kind_path, "divisor_override"))
        return f"nn.AvgPool{n}d({', '.join(a.kw('kernel_size', 'stride', 'padding', 'ceil_mode', 'count_include_pad', 'divisor_override'))})"

    def global_pool(self, kind: str, item: _Item, a: _Args, c_in: ast.expr, rank: int) -> tuple[str, ast.expr, int]:
        if not 1 <= rank <= 3:
            raise self.unsupported(f"{kind} on a tensor with {rank} spatial axes", item.kind_path)
        pool = f"nn.Adaptive{'Avg' if 'avg' in kind else 'Max'}Pool{rank}d(1)"
        if a.constant("keepdim", True):
            return pool, c_in, rank
        return f"nn.Sequential({pool}, nn.Flatten())", c_in, 0

    def linear(self, item: _Item, a: _Args, c_in: ast.expr, rank: int) -> tuple[str, ast.expr, int]:
        axis = a.constant("axis", None)
        out = a.node("out_features")
        extra = a.kw("bias")
        if rank == 0:
            return f"nn.Linear({', '.join([_render(c_in), _render(out), *extra])})", out, 0
        if axis == "channels":
            self.helpers.add("ChannelsLast")
            return f"ChannelsLast(nn.Linear({', '.join([_render(c_in), _render(out), *extra])}))", out, rank
        features = self.hole(item, lambda row: row.input_shapes[0][-1], "the size of the last axis")
        return f"nn.Linear({', '.join([_render(features), _render(out), *extra])})", c_in, rank

    def flatten(self, item: _Item, a: _Args, c_in: ast.expr, rank: int) -> tuple[str, ast.expr, int]:
        start = a.constant("start_dim", 0)
        module = "nn.Flatten()" if start == 0 else f"nn.Flatten({start + 1})"
        if start >= 1:
            return module, c_in, start
        if rank == 0:
            return module, c_in, 0
        return module, self.hole(item, lambda row: row.output_shape[0], "the number of features"), 0

    def layer_norm(self, a: _Args, c_in: ast.expr, rank: int) -> tuple[str, ast.expr, int]:
        extra = a.kw("eps", "elementwise_affine", "bias")
        if a.has("normalized_shape"):
            return f"nn.LayerNorm({', '.join([a.text('normalized_shape'), *extra])})", c_in, rank
        norm = f"nn.LayerNorm({', '.join([_render(c_in), *extra])})"
        if rank == 0:
            return norm, c_in, rank
        self.helpers.add("ChannelsLast")
        return f"ChannelsLast({norm})", c_in, rank

    def zero_pad(self, item: _Item, a: _Args, rank: int) -> str:
        if rank == 0:
            return "nn.Identity()"  # no spatial axis to pad: convcalc passes the tensor through
        if not 1 <= rank <= 3:
            raise self.unsupported(f"zero_pad on a tensor with {rank} spatial axes", item.kind_path)
        raw = a.raw("padding")
        if isinstance(raw, int) or _is_expr(raw):
            if _is_expr(raw):
                self.checks[item.path] = "zero_pad"
            return f"nn.ZeroPad{rank}d({a.text('padding')})"
        return f"nn.ZeroPad{rank}d({_torch_pads(a.pairs('padding'))})"

    def hole(self, item: _Item, measure, what: str) -> ast.expr:
        """A size PyTorch needs that depends on the input size: convcalc's value, the same at every use."""
        if self.report is None:
            raise self.unsupported(f"{item.kind} needs {what}, which depends on the input size", item.kind_path)
        values = {measure(row) for row in self.rows_at.get(self.spec.pos(item.path), ())}
        if not values:
            raise self.unsupported(f"{item.kind} needs {what}, and the spec never computes it", item.kind_path)
        if len(values) > 1:
            shown = ", ".join(str(v) for v in sorted(values))
            raise self.unsupported(f"{item.kind} needs {what}, which differs between its uses ({shown})", item.kind_path,
                                   "a block's flatten -> linear must see one input size")
        return _const(values.pop())


def _torch_pads(pairs: list[tuple[ast.expr, ast.expr]]) -> str:
    """F.pad order: the last axis first, (before, after) each."""
    flat: list[ast.expr] = []
    for before, after in reversed(pairs):
        flat += [before, after]
    return _render(ast.Tuple(flat, ast.Load()))


_INVERSE = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt}


def _negation(cond: ast.expr) -> Optional[ast.expr]:
    """``a == b`` -> ``a != b``; ``p and q`` -> ``not-p or not-q`` (De Morgan); None if not simple."""
    if isinstance(cond, ast.UnaryOp) and isinstance(cond.op, ast.Not):
        return cond.operand
    if isinstance(cond, ast.Compare) and len(cond.ops) == 1 and type(cond.ops[0]) in _INVERSE:
        return ast.Compare(cond.left, [_INVERSE[type(cond.ops[0])]()], cond.comparators)
    if isinstance(cond, ast.BoolOp):
        values = [_negation(v) for v in cond.values]
        if all(v is not None for v in values):
            return ast.BoolOp(ast.Or() if isinstance(cond.op, ast.And) else ast.And(), values)
    return None


def _implications(cond: ast.expr, truth: bool) -> list[tuple[str, bool]]:
    """What a condition's truth value tells about others: ``a != b`` true makes ``a == b`` false,
    ``p and q`` true makes both true, ``p or q`` true makes ``not-p and not-q`` false."""
    found = [(ast.dump(cond), truth)]
    negation = _negation(cond)
    if negation is not None:
        found.append((ast.dump(negation), not truth))
    if isinstance(cond, ast.BoolOp) and isinstance(cond.op, ast.And if truth else ast.Or):
        for value in cond.values:
            found += _implications(value, truth)
    return found


def _token_base(attr: str, item: _Item) -> str:
    name = item.meta.get("name")
    return _identifier(name, "layer") if isinstance(name, str) and "$" not in name else _base(item.canonical)


def _param(name: str) -> str:
    """A block parameter as a Python name: not a keyword, nor a name the generated code uses."""
    return f"{name}_" if keyword.iskeyword(name) or name in _MODULE_NAMES else name


def _ids_in(raw: Any) -> list[str]:
    """Every tensor id written inside a raw item."""
    found: list[str] = []
    if isinstance(raw, dict):
        for key, value in raw.items():
            if key == "id" and isinstance(value, str):
                found.append(value)
            found += _ids_in(value)
    elif isinstance(raw, list):
        for value in raw:
            found += _ids_in(value)
    return found


class _Args:
    """A leaf's raw arguments, rendered in the class being written."""

    def __init__(self, writer: _Writer, args: dict, ctx: _Ctx, path: Path):
        self.writer, self.args, self.ctx, self.path = writer, args, ctx, path

    def has(self, key: str) -> bool:
        return key in self.args

    def raw(self, key: str, default: Any = None) -> Any:
        return self.args.get(key, default)

    def node(self, key: str) -> ast.expr:
        return self.writer.value(self.args[key], self.ctx, (*self.path, key))

    def text(self, key: str) -> str:
        return _render(self.node(key))

    def pairs(self, key: str) -> list[tuple[ast.expr, ast.expr]]:
        """``padding`` as (before, after) per axis: an int for both, or a [before, after] pair."""
        result = []
        for i, v in enumerate(self.args[key]):
            path = (*self.path, key, i)
            if isinstance(v, list):
                result.append((self.writer.value(v[0], self.ctx, (*path, 0)), self.writer.value(v[1], self.ctx, (*path, 1))))
            else:
                node = self.writer.value(v, self.ctx, path)
                result.append((node, node))
        return result

    def kw(self, *keys: str) -> list[str]:
        return [f"{k}={self.text(k)}" for k in keys if k in self.args]

    def constant(self, key: str, default: Any) -> Any:
        if key not in self.args:
            return default
        node = self.node(key)
        if not isinstance(node, ast.Constant):
            raise self.writer.unsupported(f"{key} given by a parameter ({self.args[key]!r})", (*self.path, key), "write the value in the block")
        return node.value


# -- rows to modules: the engine's walk over the spec, reading the placements ----------------------

class _Mapper:
    """Walk the spec as the engine does (same order, same ``when`` / ``repeat`` / block values)
    and give each report row the qualified name of its module."""

    def __init__(self, spec: Spec, report: Report, placements: dict[Path, _Placement], checks: dict[Path, str]):
        self.spec, self.report, self.placements, self.checks = spec, report, placements, checks
        self.rows = report.rows
        self.next = 0
        self.modules: list[Optional[str]] = [None] * len(self.rows)

    def run(self) -> tuple[Optional[str], ...]:
        self.walk_list(self.spec.layers, ("layers",), -1, {}, "", {})
        if self.next != len(self.rows):
            raise UsageError("export-internal", f"the export covers {self.next} of {len(self.rows)} layers")
        return tuple(self.modules)

    def channels(self, source: int) -> Any:
        return self.rows[source].output_shape[0] if source >= 0 else self.report.input_shape[0]

    def consume(self, kind: str, module: Optional[str]) -> int:
        index = self.next
        row = self.rows[index]
        if row.kind != kind:
            raise UsageError("export-internal", f"layer {row.path} is a {row.kind}, the export expected a {kind}")
        self.modules[index] = module
        self.next += 1
        return index

    def walk_list(self, items: list, path: Path, x: int, scope: dict, frame: str, env: dict) -> int:
        for i, raw in enumerate(items):
            x = self.walk_item(raw, (*path, i), x, scope, frame, env)
        return x

    def walk_item(self, raw: Any, path: Path, x: int, scope: dict, frame: str, env: dict) -> int:
        item = _split(raw, path)
        meta = {k: substitute(v, env) for k, v in item.meta.items() if k != "expect"}
        if "when" in meta and not truthy(meta["when"]):
            return x
        if "input" in meta:
            x = x if meta["input"] == "previous" else scope[meta["input"]]
        place = self.placements.get(path, _Placement(None))
        own = _join(frame, place.qual)
        if place.repeat:
            for r in range(meta["repeat"]):
                x = self.walk_one(item, x, scope, _join(own, str(r)), _join(own, str(r)), env)
        else:
            x = self.walk_one(item, x, scope, frame, own, env)
        if "id" in meta:
            scope[meta["id"]] = x
        return x

    def walk_one(self, item: _Item, x: int, scope: dict, frame: str, own: Optional[str], env: dict) -> int:
        """``frame``: what the item's children are placed relative to; ``own``: its module."""
        kind = item.canonical
        if kind in self.spec.blocks:
            block = self.spec.blocks[kind]
            given = substitute(item.args, env) if item.args is not None else {}
            inner = {**block.params, **given, "in_channels": self.channels(x)}
            return self.walk_list(block.layers, ("blocks", kind, "layers"), x, {BLOCK_INPUT: x}, own or "", inner)
        if kind == "seq":
            return self.walk_list(item.args, item.kind_path, x, scope, frame, env)
        if kind == "residual":
            args = item.args
            self.walk_list(args.get("body") or [], (*item.kind_path, "body"), x, scope, frame, env)
            self.walk_list(args.get("shortcut") or [], (*item.kind_path, "shortcut"), x, scope, frame, env)
            return self.consume("add", None)
        if kind == "parallel":
            branches = item.args["branches"]
            keys = list(branches) if isinstance(branches, dict) else list(range(len(branches)))
            for key in keys:
                self.walk_list(branches[key], (*item.kind_path, "branches", key), x, scope, frame, env)
            self.crops(item)
            return self.consume(item.args["merge"], None)
        if kind in MERGES:
            self.crops(item)
            return self.consume(kind, None)
        if item.path in self.checks:
            self.check(item, substitute(item.args, env))
        return self.consume(kind, own)

    def crops(self, item: _Item) -> None:
        pos = self.spec.pos(item.path)
        while self.next < len(self.rows) and self.rows[self.next].kind == "center_crop" and self.rows[self.next].pos == pos:
            self.consume("center_crop", None)

    def check(self, item: _Item, args: dict) -> None:
        """A value a block parameter gives is passed to PyTorch as is: it must mean the same there."""
        padding = args.get("padding")
        if self.checks[item.path] == "zero_pad":
            ok = isinstance(padding, int)
        else:
            stride = args.get("stride", 1)
            ones = stride == 1 or (isinstance(stride, list) and all(s == 1 for s in stride))
            ok = isinstance(padding, int) or padding == "valid" or (padding == "same" and ones) or (
                isinstance(padding, list) and all(isinstance(p, int) for p in padding))
        if not ok:
            raise UsageError(
                "export-unsupported",
                f"cannot export to PyTorch: padding {padding!r} comes from a block parameter and PyTorch reads it differently",
                self.spec.pos((*item.kind_path, "padding")),
                "write 'same' or the [before, after] pairs in the block itself",
            )


def _join(prefix: Optional[str], qual: Optional[str]) -> Optional[str]:
    if qual is None:
        return None
    return f"{prefix}.{qual}" if prefix and qual else (prefix or qual)

