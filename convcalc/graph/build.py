"""Build a network graph from a spec: every item interpreted once, here.

Each item of ``layers:`` is one of
- a layer kind (``conv2d``, ``relu``, ``concat`` ...), a leaf that becomes one node;
- ``seq: [...]``, a named group of items;
- ``residual: {body: [...], shortcut: [...]}``: body plus shortcut (identity when absent), added;
- ``parallel: {merge: concat|add|multiply, branches: [[...], [...]]}``: branches from one input;
- the name of a reusable block from ``blocks:``, with the block's parameters as its mapping.
Any item may carry ``name``, ``id`` (names its output; a list names each output of a layer with
several), ``input`` (reads a named tensor instead of the previous output), ``repeat``, ``when``
(inside blocks) and ``expect``. Inside a block, the id ``block_input`` names the tensor entering the
block (a shortcut reads it after the body's layers). A block whose layers are one unnamed item is
that item: its nodes have no path segment of its own.

Repeats are unrolled, block parameters substituted, ids resolved, cycles and unknown ids refused,
every layer's arguments validated: a fault is a :class:`SpecError` at its place in the file. The
layers are inferred as they are reached (a block reads ``in_channels``, the width entering it), so
the graph comes with the fold at the declared input (``Graph.results``).
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Optional

from pydantic import ValidationError

from convcalc.arith._collector import collector_paused
from convcalc.arith.dims import dmin
from convcalc.errors import Position, SpecError, SpecErrors
from convcalc.graph._items import POISON, Item, Scope, as_written
from convcalc.graph._memo import POISONED, Fold, FoldMemo, _names, has_dollar
from convcalc.graph._prefix import Prefixes, first_reads
from convcalc.graph._structures import MAX_BLOCK_DEPTH, Structures
from convcalc.graph.model import BlockInfo, Expectation, Graph, GroupNode, Node, Port, positional_constructor
from convcalc.kinds import ALIASES, KINDS, LayerError, Result, RFAxis, Tensor
from convcalc.kinds._base import format_shape
from convcalc.kinds._run import run, running_batch
from convcalc.spec import Expect, Spec, did_you_mean, spec_error_from_validation
from convcalc.spec._expr import ExprError, substitute, truthy
from convcalc.spec._source import Path
from convcalc.spec.model import META_KEYS, PREVIOUS, STRUCTURAL

__all__ = ["MAX_BLOCK_DEPTH", "MAX_LAYERS", "MAX_SYMBOLIC_LAYERS", "build_graph", "first_reads", "symbols_of"]

MAX_LAYERS = 100_000  # rows after expanding every repeat and block (real networks: < 10,000)
MAX_SYMBOLIC_LAYERS = 2_000  # the same with symbolic sizes, whose rows cost ~100x more (ResNet-152: 515)
MAX_ERRORS = 20  # faults reported per file; a limit's refusal ends the build at once


_MERGES = ("concat", "add", "multiply")  # the merge kinds, also parallel's `merge:` values



def symbols_of(dims: tuple) -> tuple:
    """Sizes written as names (``H``) as sympy symbols; sympy is imported only when there is one."""
    if not any(isinstance(d, str) for d in dims):
        return dims
    from convcalc.arith.dims import sympy_module

    sp = sympy_module()
    return tuple(sp.Symbol(d, integer=True, positive=True) if isinstance(d, str) else d for d in dims)


def build_graph(spec: Spec, *, input_shape: Optional[tuple] = None, batch: Any = None, memo: Optional[dict] = None) -> Graph:
    """Build the spec's graph, folded at ``input_shape`` (the spec's ``input:`` by default).
    Raises :class:`SpecError` at the first fault. ``memo`` (a dict, empty at first) carries the
    folds of blocks from one build to the next builds of the same spec (``sweep``'s points)."""
    dims = tuple(input_shape) if input_shape is not None else spec.input
    raw_batch = batch if batch is not None else spec.batch
    folder = _Folder(spec, symbolic=not all(isinstance(d, int) for d in (*dims, raw_batch)), memo=memo)
    estimated = folder.memo.get(("estimate", folder.max_layers))  # the same for every build of the spec (unresolved repeats count 1)
    if estimated is None:
        estimated = folder.memo[("estimate", folder.max_layers)] = folder.estimate(spec.layers, ())  # before sympy is imported: a refusal costs nothing
    if estimated > folder.max_layers:
        raise SpecError("limit-layers", f"the network expands to {estimated:,} layers, {folder.over_limit}", spec.pos(("layers",)))
    shape = symbols_of(dims)
    batch_value = symbols_of((raw_batch,))[0]
    if folder.symbolic:
        from convcalc.arith._symbolic import start_work

        start_work()
    x = Tensor(shape=shape, rf=tuple(RFAxis() for _ in shape[1:]))
    folder.network_input = x
    with collector_paused():  # the fold makes many small objects and frees none: cycle collection only slows it
        with running_batch(batch_value):  # group norm's rule counts the batch
            out = folder.fold_network(spec.layers, x, Scope(), dict(spec.params), batch_value)
        if folder.errors:
            raise folder.errors[0] if len(folder.errors) == 1 else SpecErrors(folder.errors)
        if out.siblings > 1:
            raise folder.error("graph-outputs", f"the network ends in a layer with {out.siblings} outputs", ("layers", len(spec.layers) - 1),
                               hint="end it with a layer that reads one of them (`input:` an id), or a merge of them")
        if spec.expect is not None:
            folder.expect("", spec.expect, ("expect",))
        return Graph(
            name=spec.name, description=spec.description, input_shape=shape, batch=batch_value,
            nodes=tuple(folder.nodes), groups=folder.frozen_groups(), output=Port(out.source, out.port),
            results=tuple(folder.results), expectations=tuple(folder.expectations),
            conditions=tuple(folder.conditions), file=spec.file, source="spec",
            blocks={name: BlockInfo(name, b.description, dict(b.params)) for name, b in spec.blocks.items()}, names=folder.names,
        )


class _Folder(FoldMemo, Structures, Prefixes):
    def __init__(self, spec: Spec, symbolic: bool = False, memo: Optional[dict] = None):
        self.spec = spec
        self.symbolic = symbolic
        self.max_layers = MAX_SYMBOLIC_LAYERS if symbolic else MAX_LAYERS
        self.over_limit = (
            f"more than {MAX_SYMBOLIC_LAYERS:,} with symbolic sizes (limit MAX_SYMBOLIC_LAYERS; give the input size as a number)"
            if symbolic else f"more than {MAX_LAYERS:,} (limit MAX_LAYERS)"
        )
        self.nodes: list[Node] = []
        self.results: list[Result] = []
        self.groups: list[dict[str, Any]] = []  # GroupNode fields, frozen at the end (parents are known last)
        self.open_groups = 0  # groups started and not finished: their children have no parent yet
        self.expectations: list[Expectation] = []
        self.conditions: list[tuple[int, Any, Any]] = []
        self.names: dict[Port, str] = {}  # the first id given to each tensor
        self.errors: list[SpecError] = []  # faults found so far (reported together)
        self.widths: dict[str, Any] = {}  # the PyTorch width arguments of the layer being validated
        self.seen: set[str] = set()  # ids defined so far, in any scope
        self.block_stack: list[tuple[str, Position]] = []
        self.memo: dict[tuple, Fold] = memo if memo is not None else {}
        self.declared = self.memo.get(("declared",))
        if self.declared is None:
            self.declared = self.memo[("declared",)] = _declared_ids(spec)
        self.resumable = memo is not None  # later builds may start from this one's prefixes
        self.dollars: dict[Path, bool] = {}  # whether an item's arguments hold an expression
        # the parameters an item (or a block) may read: the same for every build of the spec
        self.reads: dict[Any, tuple[str, ...]] = self.memo.setdefault(("reads",), {})
        self.define_log: list[tuple[str, Port]] = []  # every id given, in order
        self.positions: dict[Path, Position] = {}  # of the items the memo copies

    # -- errors -------------------------------------------------------------------------------
    def error(self, code: str, message: str, path: Path, *, key: bool = False, hint: str | None = None) -> SpecError:
        if self.block_stack:
            name, used_at = self.block_stack[-1]
            context = f"in block {name!r} used at line {used_at.line}"
            hint = f"{hint}; {context}" if hint else context
        return SpecError(code, message, self.spec.pos(path, key=key), hint)

    # -- size guard ---------------------------------------------------------------------------
    def estimate(self, items: Any, stack: tuple[str, ...]) -> int:
        """Rows an item list expands to, counted before any work (repeats multiply)."""
        if not isinstance(items, list):
            return 1
        total = 0
        for raw in items:
            if isinstance(raw, str):
                total += self.estimate_block(raw, stack)
                continue
            if not isinstance(raw, dict):
                total += 1
                continue
            repeat = raw.get("repeat", 1)
            repeat = repeat if isinstance(repeat, int) and not isinstance(repeat, bool) and repeat > 0 else 1
            inner = 1
            for key, value in raw.items():
                if key in META_KEYS:
                    continue
                if key in self.spec.blocks:
                    inner = self.estimate_block(key, stack)
                elif key == "seq":
                    inner = self.estimate(value, stack)
                elif key in ("residual", "parallel") and isinstance(value, dict):
                    parts = [value.get("body"), value.get("shortcut")]
                    branches = value.get("branches")
                    parts += list(branches.values()) if isinstance(branches, dict) else (branches if isinstance(branches, list) else [])
                    inner = 1 + sum(self.estimate(p, stack) for p in parts if isinstance(p, list))
            total += repeat * max(inner, 1)  # an empty seq or block still costs a step per repeat
            if total > self.max_layers:
                return total
        return total

    def estimate_block(self, name: str, stack: tuple[str, ...]) -> int:
        if name not in self.spec.blocks or name in stack:
            return 1
        return self.estimate(self.spec.blocks[name].layers, (*stack, name))

    # -- items --------------------------------------------------------------------------------
    def fold_list(self, items: Any, path: Path, x: Tensor, scope: Scope, prefix: tuple[str, ...], depth: int, env: dict,
                  *, first: int = 0, kept: int = 0, before=None) -> Tensor:
        """The items in order; an unnamed one is named by its place among the items kept (an item
        dropped by ``when`` takes no number, as in the nn.Sequential it stands for). ``first`` and
        ``kept`` resume a list whose first items are folded; ``before(i, x, kept)`` sees each step."""
        if not isinstance(items, list):
            raise self.error("spec-type", "expected a list of layers", path)
        for i in range(first, len(items)):
            raw = items[i]
            if before is not None:
                before(i, x, kept)
            try:
                x, used = self.fold_item(raw, (*path, i), x, scope, prefix, depth, env, str(kept))
            except SpecError as exc:
                # report it, and go on with the items that do not depend on it (up to MAX_ERRORS)
                if exc.code.startswith("limit-") or len(self.errors) + 1 >= MAX_ERRORS:
                    raise
                self.errors.append(exc)
                x, used = POISON, True
                ids = raw.get("id") if isinstance(raw, dict) else None
                for name in ids if isinstance(ids, list) else [ids] if isinstance(ids, str) else []:
                    if isinstance(name, str) and "$" not in name:
                        scope.tensors[name] = POISON  # its readers are skipped, not blamed
                        self.seen.add(name)
            kept += used
        return x

    def split(self, raw: Any, path: Path, env: dict) -> Item:
        if isinstance(raw, str):
            return Item(self.kind_name(raw, path, env), None, {}, path, path)
        if not isinstance(raw, dict):
            raise self.error("spec-layer", f"a layer is a kind name or a one-key mapping, got {'nothing (null)' if raw is None else type(raw).__name__}", path)
        kinds = [k for k in raw if k not in META_KEYS]
        if len(kinds) != 1:
            if not kinds:
                raise self.error("spec-layer", f"no layer kind in this item (only {', '.join(map(str, raw))})", path)
            raise self.error(
                "spec-layer", f"one layer per item, found {len(kinds)} kinds: {', '.join(map(str, kinds))}",
                (*path, kinds[1]), key=True, hint="start a new list item with `-` for each layer",
            )
        kind = self.kind_name(str(kinds[0]), (*path, kinds[0]), env)
        meta = {}
        for key in META_KEYS:
            if key in raw:
                meta[key] = self.resolve(raw[key], (*path, key), env) if key != "expect" else raw[key]
        template = raw[kinds[0]]
        if kind not in self.spec.blocks:
            args = self.resolve(template, (*path, kinds[0]), env)
        else:
            args = self.resolve(template, (*path, kinds[0]), env) if template is not None else None
        return Item(kind, args, meta, path, (*path, kinds[0]), template)

    def kind_name(self, written: str, path: Path, env: dict) -> str:
        """The kind an item names; a block parameter may name it (``- $act:``, MobileNetV3's
        ReLU-or-Hardswish)."""
        if "$" not in written:
            return written
        kind = self.resolve(written, path, env)
        if not isinstance(kind, str):
            raise self.error("spec-type", f"{written!r} names a layer kind: it must give a string, got {kind!r}", path)
        return kind

    def resolve(self, value: Any, path: Path, env: dict) -> Any:
        try:
            return substitute(value, env)
        except ExprError as exc:
            raise self.error("spec-expression", exc.message, (*path, *exc.path)) from None

    def fold_item(self, raw: Any, path: Path, x: Tensor, scope: Scope, prefix: tuple[str, ...], depth: int, env: dict, segment: str) -> tuple[Tensor, bool]:
        """One item of a list: its output, and whether it was kept (``when``, ``repeat: 0``)."""
        if x.source == POISONED and not (isinstance(raw, dict) and "input" in raw):
            return x, True  # its input is missing after a fault already reported
        repeat = self.repeat_count(raw, path, env)
        if repeat == 0:
            return x, False
        copies = "i" not in env or repeat > 1
        item = self.split(raw, path, {**env, "i": 0} if copies else env)
        meta = item.meta
        if not self.kept(meta, path):
            return x, False
        name = meta.get("name")
        if isinstance(name, int) and not isinstance(name, bool):
            name = meta["name"] = str(name)  # `name: ${i}`: the copy's number
        if name is not None and (not isinstance(name, str) or not name or "." in name):
            raise self.error("spec-name", f"a layer name is a non-empty string without dots, got {name!r}", (*path, "name"))
        segment = name or segment
        if "input" in meta:
            x = self.lookup(meta["input"], (*path, "input"), x, scope)
            if x.source == POISONED:
                return x, True
        elif x.siblings > 1 and not _reads_inputs(ALIASES.get(item.kind, item.kind)):
            raise self.error(
                "graph-ambiguous-input", f"the layer before gives {x.siblings} tensors; this one must say which it reads", path,
                hint="name them with `id: [a, b, ...]` on that layer and give this one `input: a`",
            )
        if repeat > 1 and isinstance(raw, dict) and not isinstance(raw.get("repeat"), int):
            # a block parameter the estimate counted once: count it now, before any copy is built
            once = self.estimate([{k: v for k, v in raw.items() if k != "repeat"}], ())
            total = len(self.nodes) + repeat * once
            if total > self.max_layers:
                raise self.error("limit-layers", f"repeat {repeat:,} makes {total:,} layers, {self.over_limit}", (*path, "repeat"))
        full = (*prefix, segment)
        if repeat == 1:
            x = self.fold_one(item, x, scope, prefix, segment, depth, env)
        else:
            x = self.fold_copies(raw, item, x, scope, prefix, segment, depth, env, repeat)
        if "id" in meta:
            x = self.define(meta["id"], x, (*path, "id"), scope)
        if "expect" in meta:
            self.expect(".".join(full), meta["expect"], (*path, "expect"))
        return x, True

    def repeat_count(self, raw: Any, path: Path, env: dict) -> int:
        written = raw.get("repeat", 1) if isinstance(raw, dict) else 1
        repeat = self.resolve(written, (*path, "repeat"), env)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 0:
            raise self.error("spec-repeat", f"repeat must be an integer >= 0, got {repeat!r}", (*path, "repeat"))
        return repeat

    def kept(self, meta: dict, path: Path) -> bool:
        try:
            return not ("when" in meta and not truthy(meta["when"]))
        except ExprError as exc:
            raise self.error("spec-type", exc.message, (*path, "when")) from None

    def fold_copies(self, raw: Any, first: Item, x: Tensor, scope: Scope, prefix: tuple[str, ...], segment: str, depth: int, env: dict, repeat: int) -> Tensor:
        """``repeat: N``: N copies, each with ``i`` (0 .. N-1) in its expressions. Copies are named
        0 .. N-1 under the item's name; when the name itself uses ``i`` (``denselayer${i + 1}``),
        each copy takes its own name, side by side, as torchvision names them."""
        names = [first.meta.get("name")]
        items = [first]
        # the count is read before the copies: an expression there that does not read `i` leaves them alike
        alike = {k: v for k, v in raw.items() if k != "repeat"} if "i" not in _names(raw.get("repeat")) else raw
        if not self.dollars.setdefault(("repeat", first.path), has_dollar(alike)):
            # no expression in it, so no `i`: every copy reads as the first
            items, names = [first] * repeat, names * repeat
        for r in range(len(items), repeat):
            item = self.split(raw, first.path, {**env, "i": r})
            items.append(item)
            name = item.meta.get("name")
            if isinstance(name, int) and not isinstance(name, bool):
                name = item.meta["name"] = str(name)
            names.append(name)
        own_names = names[0] is not None and len(set(names)) == repeat
        start, entering = self.start(), x
        key = self.copies_key(raw, first, own_names)  # an earlier build's first copies, when they are this one's
        r, x = self.resume_copies(key, repeat, scope, x)
        alike = items[-1] is first  # every copy reads as the first: the memo may copy them in a row
        while r < len(items):
            item = items[r]
            if x.source == POISONED:
                return x  # a copy failed (reported): the next ones have no input
            if not self.kept(item.meta, item.path):
                r += 1
                continue
            copy_env = {**env, "i": r}
            if own_names:
                x = self.fold_one(item, x, scope, prefix, names[r], depth + 1, copy_env)
            else:
                x = self.fold_one(item, x, scope, (*prefix, segment), str(r), depth + 1, copy_env)
            r += 1
            if alike and r < len(items):
                r, x = self.replay_copies(item, x, (*prefix, segment), r, len(items), depth + 1, env)
        self.keep_copies(key, repeat, x, scope)
        label = f"{names[0]}..{names[-1]}" if own_names else segment
        self.group((*prefix, label), "" if own_names else (first.meta.get("name") or ""), f"{first.kind} x{repeat}", depth, start, entering, x,
                   first.path, role="repeat")
        return x

    def fold_one(self, item: Item, x: Tensor, scope: Scope, prefix: tuple[str, ...], segment: str, depth: int, env: dict) -> Tensor:
        full = (*prefix, segment)
        kind = ALIASES.get(item.kind, item.kind)
        if kind in self.spec.blocks or kind in STRUCTURAL:
            key = self.memo_key(kind, item, x, env)
            done = self.memo.get(key) if key is not None else None
            if done is not None:
                out = self.replay(done, item, x, full, depth)
                if out is not None:
                    return out
            mark = self.mark()
            out = self.fold_structure(kind, item, x, scope, full, depth, env)
            if key is not None:
                self.remember(key, mark, kind in self.spec.blocks, x, out, full, depth)
            return out
        if kind not in KINDS:
            choices = [*KINDS, *ALIASES, *STRUCTURAL, *self.spec.blocks]
            meant = next((k for k, cls in KINDS.items() if item.kind.lower() in cls.related), None)
            hint = f"did you mean {meant!r}?" if meant else did_you_mean(item.kind, choices)
            raise self.error("spec-unknown-kind", f"unknown layer kind {item.kind!r}", item.kind_path, key=True, hint=hint)
        layer = self.validate(KINDS[kind], item)
        if type(layer).n_inputs == 0:  # a learned tensor: it reads only the batch size of the tensor before
            return self.leaf(layer, [], full, depth, item, refs=[x])
        if "size_of" in type(layer).model_fields and layer.size_of is not None:  # resized to the size of a named tensor
            target = self.network_input if layer.size_of == "input" else self.lookup(layer.size_of, (*item.kind_path, "size_of"), x, scope)
            return self.leaf(layer, [x], full, depth, item, refs=[target])
        if _reads_inputs(kind):
            inputs = layer.inputs
            if not inputs:
                if kind not in _MERGES:  # attention on the tensor before: self-attention
                    return self.leaf(layer, [x], full, depth, item)
                raise self.error("spec-missing-arg", f"{kind} needs `inputs:` (tensor ids; `previous` is the layer before)", item.kind_path, key=True)
            xs = [self.lookup(name, (*item.kind_path, "inputs", i), x, scope) for i, name in enumerate(inputs)]
            if any(t.source == POISONED for t in xs):
                return POISON
            return self.merge(layer, xs, full, depth, item, names=list(inputs))
        self.check_widths(layer, x, item)
        return self.leaf(layer, [x], full, depth, item)

    def fold_structure(self, kind: str, item: Item, x: Tensor, scope: Scope, full: tuple[str, ...], depth: int, env: dict) -> Tensor:
        if kind in self.spec.blocks:
            return self.fold_block(item, x, full, depth, scope)
        if kind == "seq":
            start = self.start()
            out = self.fold_list(as_written(item, None), item.kind_path, x, scope, full, depth + 1, env)
            self.group(full, item.meta.get("name", ""), "seq", depth, start, x, out, item.path, role="seq")
            return out
        if kind == "residual":
            return self.fold_residual(item, x, scope, full, depth, env)
        return self.fold_parallel(item, x, scope, full, depth, env)

    # -- the memo of blocks, seqs, residuals and parallels ------------------------------------
    # An item folded again on the same input shape (a block used with the same parameters, the
    # copies of a `repeat`) makes the same nodes: they are copied, re-pathed, from the first fold.
    # The same receptive field too: the same results, shared. Another one: the copies' layers are
    # run again on it (what the engine's fold does), without reading, substituting and validating
    # the items again. Anything the copy cannot reproduce exactly (a fault, a limit, a tensor read
    # from outside, an id given to the caller's scope) is folded anew.
    def check_widths(self, layer, x: Tensor, item: Item) -> None:
        """``in_channels: 3`` (``in_features``, ``num_features``): what convcalc infers, written as
        PyTorch writes it; it must be what the input has."""
        for name, value in self.widths.items():
            axis = type(layer).input_width[name]
            if axis == "features":
                axis = -1 if len(x.shape) > 1 and getattr(layer, "axis", None) == "last" else 0
            have = x.shape[axis]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise self.error("spec-type", f"{name}: expected a positive integer, got {value!r}", (*item.kind_path, name))
            if isinstance(have, int) and value != have:
                what = "channels" if axis == 0 else "features"
                raise self.error(
                    "shape-input-width", f"{name}: {value}, but the input {format_shape(x.shape)} has {have} {what}", (*item.kind_path, name),
                    hint=f"convcalc infers {name} from the layer before; drop it or write {have}",
                )

    def validate(self, cls, item: Item):
        args = item.args
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise self.error("spec-type", f"the arguments of {item.kind} are a mapping, got {type(args).__name__}", item.kind_path)
        # PyTorch's names for what convcalc infers (in_channels ...) are checked when the input is known;
        # those it does not need (inplace, device, dtype) are left alone
        self.widths = {k: args[k] for k in cls.input_width if k in args}
        args = {k: v for k, v in args.items() if k not in cls.input_width and k not in cls.torch_only}
        try:
            return cls.model_validate(args)
        except ValidationError as exc:
            err = spec_error_from_validation(exc, self.spec.source, item.kind_path, item.kind, [f for f in cls.model_fields])
            context = self.error(err.code, err.message, item.kind_path, hint=err.hint)  # names the block in use
            raise SpecError(err.code, err.message, err.pos, context.hint) from None

    # -- nodes --------------------------------------------------------------------------------
    def leaf(self, layer, xs: list[Tensor], full: tuple[str, ...], depth: int, item: Item, *, synthetic: bool = False, refs: tuple = ()) -> Tensor:
        index = len(self.nodes)
        if index >= self.max_layers:
            raise self.error("limit-layers", f"{index + 1:,} layers, {self.over_limit}", item.path)
        try:
            result, conditions = run(layer, xs, self.symbolic, refs)
        except LayerError as exc:
            where = item.kind_path if exc.field is None else (*item.kind_path, *((exc.field,) if isinstance(exc.field, str) else exc.field))
            raise self.error(exc.code, f"{'.'.join(full)} ({layer.kind}): {exc.message}", where, hint=exc.hint) from None
        name = item.meta.get("name") if full and item.meta.get("name") == full[-1] else ""
        functional = item.meta.get("functional", False)
        if not isinstance(functional, bool):
            raise self.error("spec-type", f"functional: expected true or false, got {functional!r}", (*item.path, "functional"))
        if functional and (result.params or result.buffers):
            raise self.error("spec-functional", f"{'.'.join(full)} ({layer.kind}) has parameters: in PyTorch it is a module, not a function", (*item.path, "functional"))
        shares = None
        if "share" in item.meta:
            shares, result = self.shared(item, layer, result, full)
        return self.add_node(Node(
            index=index, path=".".join(full), name=name or "", kind=layer.kind, layer=layer,
            inputs=tuple(Port(t.source, t.port) for t in xs), depth=depth, pos=self.spec.pos(item.path),
            outputs=len(result.shapes), written=item.kind if not synthetic else layer.kind,
            template=item.template if not synthetic else None, synthetic=synthetic, refs=tuple(Port(t.source, t.port) for t in refs),
            functional=functional, shares=shares,
        ), result, conditions)

    def shared(self, item: Item, layer, result: Result, full: tuple[str, ...]) -> tuple[int, Result]:
        """``share: NAME``: this layer uses the weights of an earlier one (tied weights): the same
        kind, arguments and parameter count, its parameters counted once, there; MACs per use."""
        from dataclasses import replace

        target, where = item.meta["share"], (*item.path, "share")
        if not isinstance(target, str):
            raise self.error("spec-type", f"share: expected the path or name of a layer, got {target!r}", where)
        found = [n for n in self.nodes if n.path == target] or [n for n in self.nodes if n.name == target]
        if len(found) != 1:
            known = [n.path for n in self.nodes if self.results[n.index].params]
            what = "no layer before it" if not found else f"{len(found)} layers"
            raise self.error("spec-share", f"share: {target!r} names {what}", where, hint=did_you_mean(target, known) or "name a layer built before this one")
        owner = found[0].shares if found[0].shares is not None else found[0].index
        first = self.nodes[owner]
        if (first.kind, first.layer) != (layer.kind, layer) or self.results[owner].params != result.params or self.results[owner].buffers != result.buffers:
            raise self.error(
                "spec-share", f"{'.'.join(full)} ({layer.kind}) cannot share the weights of {first.path} ({first.kind}): "
                f"{self.results[owner].params:,} parameters there, {result.params:,} here", where,
                hint="a shared layer has the same kind, arguments and input width",
            )
        return owner, replace(result, params=0, buffers=0, notes=(*result.notes, f"weights of {first.path}"))

    def add_node(self, node: Node, result: Result, conditions: tuple = ()) -> Tensor:
        """Record a node and its result; return its (first) output."""
        self.nodes.append(node)
        self.results.append(result)
        for size, message in conditions:
            self.conditions.append((node.index, size, message))
        return Tensor(shape=result.shape, rf=result.rf, is_global=bool(result.is_global), source=node.index, siblings=len(result.shapes))

    def outputs_of(self, x: Tensor) -> list[Tensor]:
        """Every output of the node that made ``x``, one tensor each."""
        result = self.results[x.source]
        return [Tensor(shape, result.rf, bool(result.is_global), x.source, port) for port, shape in enumerate(result.shapes)]

    def merge(self, layer, xs: list[Tensor], full: tuple[str, ...], depth: int, item: Item, names: list[str], *, synthetic: bool = False) -> Tensor:
        if layer.kind == "concat" and layer.crop == "center":
            xs = self.crop_inputs(xs, full, depth, item, names)
        return self.leaf(layer, xs, full, depth, item, synthetic=synthetic)

    def crop_inputs(self, xs: list[Tensor], full: tuple[str, ...], depth: int, item: Item, names: list[str]) -> list[Tensor]:
        """``crop: center``: every input larger than the smallest is centre-cropped to it first, by a
        node of its own (``up1.cat_crop_enc4``) that reads the other inputs' shapes."""
        ranks = {len(x.shape) for x in xs}
        if len(ranks) != 1:
            return xs
        target = tuple(functools.reduce(dmin, sizes) for sizes in zip(*(x.spatial for x in xs)))
        cropped = []
        for i, (x, name) in enumerate(zip(xs, names)):
            if x.spatial == target:
                cropped.append(x)
                continue
            others = [t for j, t in enumerate(xs) if j != i]
            crop = KINDS["center_crop"]()
            try:
                result, conditions = run(crop, [x], self.symbolic, others)
            except LayerError as exc:
                raise self.error(exc.code, f"{'.'.join(full)} ({crop.kind}): {exc.message}", item.kind_path, hint=exc.hint) from None
            node = Node(
                index=len(self.nodes), path=".".join((*full[:-1], f"{full[-1]}_crop_{name}")), name="", kind="center_crop", layer=crop,
                inputs=(Port(x.source, x.port),), depth=depth, pos=self.spec.pos(item.path), written="center_crop", synthetic=True,
                refs=tuple(Port(t.source, t.port) for t in others),
            )
            cropped.append(self.add_node(node, result, conditions))
        return cropped

    def lookup(self, name: Any, path: Path, previous: Tensor, scope: Scope) -> Tensor:
        if name == PREVIOUS:
            if previous.siblings > 1:
                raise self.error(
                    "graph-ambiguous-input", f"`previous` is a layer with {previous.siblings} outputs", path,
                    hint="name them with `id: [a, b, ...]` on that layer and read them by name",
                )
            return previous
        if not isinstance(name, str):
            raise self.error("spec-type", f"a tensor id is a string, got {name!r}", path)
        if name in scope.tensors:
            return scope.tensors[name]
        if name in self.declared and self.block_stack and name in self.seen:
            raise self.error(
                "graph-out-of-scope", f"tensor {name!r} is defined outside block {self.block_stack[-1][0]!r}", path,
                hint=f"pass it in as a parameter: give the block a parameter (skip: ~), use it as `input: $skip`, and call the block with skip: {name}",
            )
        if name in self.declared:
            raise self.error(
                "graph-cycle", f"tensor {name!r} is not computed yet at this point (defined at line {self.declared[name]})",
                path, hint="a layer can only read tensors produced before it; reading a later one would make a cycle",
            )
        known = [*scope.tensors, PREVIOUS]
        raise self.error("graph-unknown-id", f"unknown tensor id {name!r}", path, hint=did_you_mean(name, known) or f"known here: {', '.join(known)}")

    def define(self, name: Any, x: Tensor, path: Path, scope: Scope) -> Tensor:
        """Name the item's output (``id: a``), or each output of a layer with several (``id: [a, b]``)."""
        names = name if isinstance(name, list) else [name]
        tensors = self.outputs_of(x) if isinstance(name, list) and x.source >= 0 else [x]
        if isinstance(name, list) and len(names) != len(tensors):
            raise self.error("spec-id", f"{len(names)} ids for a layer with {len(tensors)} output{'s' if len(tensors) != 1 else ''}", path)
        if not isinstance(name, list) and x.siblings > 1:
            raise self.error("spec-id", f"one id for a layer with {x.siblings} outputs", path, hint=f"give one per output: id: [{', '.join(f't{i}' for i in range(x.siblings))}]")
        for i, (one, tensor) in enumerate(zip(names, tensors)):
            if not isinstance(one, str) or not one or one == PREVIOUS:
                raise self.error("spec-id", f"an id is a non-empty string other than {PREVIOUS!r}, got {one!r}", (*path, i) if isinstance(name, list) else path)
            scope.tensors[one] = tensor
            self.seen.add(one)
            self.names.setdefault(Port(tensor.source, tensor.port), one)
            self.define_log.append((one, Port(tensor.source, tensor.port)))
        return x

    # -- groups and expectations --------------------------------------------------------------
    def start(self) -> tuple[int, int]:
        """Where a group starts: (its first node, the first group that may be its child)."""
        return len(self.nodes), len(self.groups)

    def group(self, full: tuple[str, ...], name: str, kind: str, depth: int, start: tuple[int, int], entering: Tensor, out: Tensor, path: Path,
              *, role: str, block: Optional[str] = None, params: Optional[dict] = None, merge: Optional[str] = None, template: Any = None) -> None:
        if len(self.groups) >= self.max_layers:  # every fold step adds a node or a group: this bounds the steps
            raise self.error("limit-layers", f"{len(self.groups) + 1:,} groups of layers, {self.over_limit}", path)
        index = len(self.groups)
        for child in self.groups[start[1]:]:
            if child["parent"] is None:
                child["parent"] = index
        self.groups.append({
            "index": index, "path": ".".join(full), "name": name or "", "kind": kind, "role": role, "depth": depth,
            "first": start[0], "end": len(self.nodes), "input": Port(entering.source, entering.port), "output": Port(out.source, out.port),
            "pos": self.spec.pos(path), "parent": None, "block": block, "params": dict(params or {}), "merge": merge, "template": template,
        })

    def drop_last_group(self) -> None:
        dropped = self.groups.pop()
        for child in self.groups:
            if child["parent"] == dropped["index"]:
                child["parent"] = None

    def frozen_groups(self) -> tuple[GroupNode, ...]:
        """The groups as :class:`GroupNode` objects, made positionally (a 100,000-layer chain has 50,000)."""
        make, fields = positional_constructor(GroupNode), operator.itemgetter(*GroupNode.__slots__)
        return tuple([make(*fields(g)) for g in self.groups])

    def expect(self, target: str, raw: Any, path: Path) -> None:
        try:
            model = raw if isinstance(raw, Expect) else Expect.model_validate(raw)
        except ValidationError as exc:
            raise spec_error_from_validation(exc, self.spec.source, path, "expect", list(Expect.model_fields)) from None
        for key in Expect.model_fields:  # read, not dumped: the top level's Expect is validated in SpecModel and needs no serializer of its own
            value = getattr(model, key)
            if value is not None:
                self.expectations.append(Expectation(target, key, value, self.spec.pos((*path, key))))


def _reads_inputs(kind: str) -> bool:
    """A kind that reads the tensors named in its ``inputs`` (merges, attention, matmul)."""
    cls = KINDS.get(kind)
    return cls is not None and "inputs" in cls.model_fields


def _declared_ids(spec: Spec) -> dict[str, int]:
    """Every ``id:`` written anywhere in the spec, with its line, to tell a cycle from a typo."""
    found: dict[str, int] = {}
    for path, (line, _) in spec.source.values.items():
        if path and (path[-1] == "id" or (len(path) > 1 and path[-2] == "id" and isinstance(path[-1], int))):
            value = _get(spec.data, path)
            if isinstance(value, str):
                found.setdefault(value, line)
    return found


def _get(data: Any, path: Path) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data

