"""The builder's structural items: ``residual`` (body plus shortcut, added), ``parallel``
(branches from one input, merged) and the use of a reusable block (its parameters substituted,
its ``block_input`` and ids in a scope of its own). A mixin of :class:`convcalc.graph.build._Folder`,
which holds the state and folds the items inside them."""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, ValidationError

from convcalc.graph._items import POISON, Item, Scope, as_written, shape_text
from convcalc.graph._memo import POISONED
from convcalc.kinds import KINDS, Tensor
from convcalc.spec import did_you_mean, spec_error_from_validation
from convcalc.spec.model import BLOCK_INPUT

__all__ = ["MAX_BLOCK_DEPTH", "ParallelArgs", "ResidualArgs", "Structures"]

MAX_BLOCK_DEPTH = 32  # blocks using blocks


class ResidualArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # validators built when a spec first uses them
    body: list[Any]
    shortcut: list[Any] = []


class ParallelArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    merge: Literal["concat", "add", "multiply"]
    crop: Literal["none", "center"] = "none"
    branches: Union[list[list[Any]], dict[str, list[Any]]]


class Structures:
    """residual, parallel and block uses, folded (the state is :class:`convcalc.graph.build._Folder`'s)."""

    def fold_residual(self, item: Item, x: Tensor, scope: Scope, full: tuple[str, ...], depth: int, env: dict) -> Tensor:
        args = self.structure(ResidualArgs, item)
        start = self.start()
        body = self.fold_list(as_written(item, "body", args.body), (*item.kind_path, "body"), x, scope, full, depth + 1, env)
        shortcut = x
        if args.shortcut:
            inner = self.start()
            shortcut = self.fold_list(as_written(item, "shortcut", args.shortcut), (*item.kind_path, "shortcut"), x, scope, (*full, "shortcut"), depth + 2, env)
            self.group((*full, "shortcut"), "shortcut", "shortcut", depth + 1, inner, x, shortcut, (*item.kind_path, "shortcut"), role="shortcut")
        if POISONED in (body.source, shortcut.source):
            return POISON
        if body.shape != shortcut.shape:
            raise self.error(
                "graph-add-mismatch",
                f"residual {'.'.join(full)}: the body gives {shape_text(body.shape)} but the shortcut gives {shape_text(shortcut.shape)}; they must match at the add",
                item.kind_path, key=True,
                hint="a projection shortcut (1x1 conv with the body's stride and output channels, then batch norm) is probably missing",
            )
        out = self.leaf(KINDS["add"](), [body, shortcut], (*full, "add"), depth + 1, item, synthetic=True)
        self.group(full, item.meta.get("name", ""), "residual", depth, start, x, out, item.path, role="residual")
        return out

    def fold_parallel(self, item: Item, x: Tensor, scope: Scope, full: tuple[str, ...], depth: int, env: dict) -> Tensor:
        args = self.structure(ParallelArgs, item)
        written = as_written(item, "branches", args.branches)
        if type(written) is not type(args.branches) or len(written) != len(args.branches):
            written = args.branches
        branches = written if isinstance(written, dict) else {f"branch{j + 1}": b for j, b in enumerate(written)}
        if not branches:
            raise self.error("spec-parallel", "parallel needs at least one branch", (*item.kind_path, "branches"))
        start = self.start()
        outs = []
        for j, (bname, items) in enumerate(branches.items()):
            key = bname if isinstance(args.branches, dict) else j
            where = (*item.kind_path, "branches", key)
            if isinstance(items, list) and len(items) == 1 and not (isinstance(items[0], dict) and "name" in items[0]):
                # a branch of one unnamed layer is that layer, named as the branch (inception3a.branch1.conv)
                out, _ = self.fold_item(items[0], (*where, 0), x, scope, full, depth + 1, env, bname)
                outs.append(out)
                continue
            inner = self.start()
            out = self.fold_list(items, where, x, scope, (*full, bname), depth + 2, env)
            if len(self.nodes) > inner[0]:
                self.group((*full, bname), bname, "branch", depth + 1, inner, x, out, where, role="branch")
            outs.append(out)
        if any(o.source == POISONED for o in outs):
            return POISON
        merge_cls = KINDS[args.merge]
        layer = merge_cls(crop=args.crop) if args.merge == "concat" else merge_cls()
        out = self.merge(layer, outs, (*full, args.merge), depth + 1, item, names=list(branches), synthetic=True)
        self.group(full, item.meta.get("name", ""), "parallel", depth, start, x, out, item.path, role="parallel", merge=args.merge)
        return out

    def structure(self, model, item: Item):
        if not isinstance(item.args, dict):
            raise self.error("spec-type", f"{item.kind} takes a mapping", item.kind_path)
        try:
            return model.model_validate(item.args)
        except ValidationError as exc:
            raise spec_error_from_validation(exc, self.spec.source, item.kind_path, item.kind, list(model.model_fields)) from None

    def fold_block(self, item: Item, x: Tensor, full: tuple[str, ...], depth: int, caller: Scope) -> Tensor:
        block = self.spec.blocks[item.kind]
        use_pos = self.spec.pos(item.kind_path, key=True)
        if any(name == block.name for name, _ in self.block_stack):
            chain = " -> ".join([*(n for n, _ in self.block_stack), block.name])
            raise self.error("graph-recursive-block", f"block {block.name!r} uses itself ({chain})", item.kind_path, key=True)
        if len(self.block_stack) >= MAX_BLOCK_DEPTH:
            raise self.error("limit-block-depth", f"blocks nested deeper than {MAX_BLOCK_DEPTH} (limit MAX_BLOCK_DEPTH)", item.kind_path, key=True)
        given = item.args if item.args is not None else {}
        if not isinstance(given, dict):
            raise self.error("spec-type", f"the parameters of block {block.name!r} are a mapping", item.kind_path)
        for key in given:
            if key not in block.params:
                raise self.error(
                    "spec-unknown-param", f"block {block.name!r} has no parameter {key!r}", (*item.kind_path, key), key=True,
                    hint=did_you_mean(key, block.params) or f"its parameters: {', '.join(block.params) or 'none'}",
                )
        env = {**self.spec.params, **block.params, **given, "in_channels": x.channels}
        missing = [k for k in block.params if env[k] is None]
        if missing:
            raise self.error("spec-missing-param", f"block {block.name!r} needs parameter {missing[0]!r}", item.kind_path, key=True)
        start = self.start()
        layers, path = block.layers, ("blocks", block.name, "layers")
        # a parameter that names a tensor of the caller hands it to the block (`input: $skip`)
        inner = Scope({**{v: caller.tensors[v] for v in given.values() if isinstance(v, str) and v in caller.tensors}, BLOCK_INPUT: x})
        self.block_stack.append((block.name, use_pos))
        try:
            if len(layers) == 1 and not (isinstance(layers[0], dict) and "name" in layers[0]):
                # a block of one unnamed item is that item, without a path segment of its own
                # (inception3a.branch1, not inception3a.0.branch1); the block's group stands for it
                out, _ = self.fold_item(layers[0], (*path, 0), x, inner, full[:-1], depth, env, full[-1])
                if self.groups and (self.groups[-1]["path"], self.groups[-1]["first"]) == (".".join(full), start[0]):
                    self.drop_last_group()
            else:
                out = self.fold_list(layers, path, x, inner, full, depth + 1, env)
        finally:
            self.block_stack.pop()
        self.group(full, item.meta.get("name", ""), block.name, depth, start, x, out, item.path, role="block", block=block.name, params=env,
                   template=item.template)
        return out

    # -- named tensors ------------------------------------------------------------------------
