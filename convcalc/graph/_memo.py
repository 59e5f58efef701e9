"""The builder's memo: a structural item (a block use, a ``seq``, a residual, a repeated item)
folded once is copied to every later place where the same item meets the same tensor, instead of
being interpreted again. A key holds everything the fold read: the item's arguments or its place
in the spec, the parameters its expressions name, the shape entering it. A copy whose entering
receptive field differs has its layers' results computed again on the copied nodes
(:meth:`FoldMemo.refold`), never interpreted again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from convcalc.graph.model import Expectation, Node, Port, positional_constructor
from convcalc.kinds import ALIASES, LayerError, Result, Tensor
from convcalc.kinds._base import same_field
from convcalc.kinds._run import rf_within_bounds, run, tensor_of, with_field
from convcalc.spec.model import STRUCTURAL

__all__ = ["POISONED", "Fold", "FoldMemo", "has_dollar"]

POISONED = -3  # the source of a tensor that a fault left without a value: what reads it is skipped


@dataclass(frozen=True)
class Fold:
    """What one fold of a structural item added, to be copied to another place (the memo)."""

    prefix: str  # the path of its nodes and groups
    depth: int
    start: int  # its first node
    x: Tensor  # the tensor that entered it
    out: Tensor
    nodes: tuple[Node, ...]
    results: tuple[Result, ...]
    groups: tuple[dict[str, Any], ...]
    conditions: tuple[tuple[int, Any, Any], ...]
    expectations: tuple[Expectation, ...]
    defines: tuple[tuple[str, Port], ...]
    fields: dict = field(default_factory=dict)  # (receptive field, is_global) entering -> (results, conditions) there
    ports: list = field(default_factory=list)  # per node, its inputs and refs as copies read them (``_ports``)
    refielders: dict = field(default_factory=dict)  # node offset -> its layer's refielder on the fold's shapes (``refold``)


def _frozen(value: Any) -> Any:
    """A hashable stand-in for parameter values (lists as tuples); TypeError for anything else."""
    if isinstance(value, list):
        return ("list", *map(_frozen, value))
    if isinstance(value, dict):
        return ("dict", *((k, _frozen(v)) for k, v in value.items()))
    hash(value)
    return (type(value), value)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _names(value: Any) -> frozenset[str]:
    """Every word of the expressions in a template (keys included): a superset of the parameters
    it reads."""
    found: set[str] = set()
    todo = [value]
    while todo:
        value = todo.pop()
        if isinstance(value, str):
            if "$" in value:
                found.update(_NAME.findall(value))
        elif isinstance(value, list):
            todo += value
        elif isinstance(value, dict):
            todo += value
            todo += value.values()
    return frozenset(found)


def _words(value: Any) -> frozenset[str]:
    """Every string and key of a template, for the blocks it may use."""
    found: set[str] = set()
    todo = [value]
    while todo:
        value = todo.pop()
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, list):
            todo += value
        elif isinstance(value, dict):
            found.update(map(str, value))
            todo += value.values()
    return frozenset(found)


def has_dollar(value: Any) -> bool:
    """Whether a template holds an expression (``$x``, ``${...}``): else it reads no parameter."""
    if isinstance(value, str):
        return "$" in value
    if isinstance(value, list):
        return any(has_dollar(v) for v in value)
    if isinstance(value, dict):
        return any(has_dollar(k) or has_dollar(v) for k, v in value.items())
    return False


class FoldMemo:
    """The memo's part of the builder (:class:`convcalc.graph.build._Folder` holds the state:
    ``memo``, ``reads``, ``nodes``, ``results``, ``groups``, ``conditions``, ...)."""

    def memo_key(self, kind: str, item: Any, x: Tensor, env: dict) -> Optional[tuple]:
        if x.source < 0:
            return None
        try:
            if kind in self.spec.blocks:  # its layers read its parameters, the width entering it and the spec's params
                what = (kind, _frozen(item.args), *((n, _frozen(self.spec.params[n])) for n in self.block_reads(kind) if n in self.spec.params))
            else:
                reads = self.reads.get(item.path)
                if reads is None:
                    reads = self.reads[item.path] = tuple(sorted(_names(item.template)))
                what = (kind, item.path, *((n, _frozen(env[n])) for n in reads if n in env))
            key = (*what, item.meta.get("name"), x.shape, x.siblings, len(self.block_stack), self.network_input.shape, self.symbolic)
            hash(key)
        except TypeError:  # an unhashable value: fold it anew
            return None
        return key

    def block_params(self, g: dict) -> dict:
        """A copied block use's parameters with this spec's params (the memo may serve another
        point of a sweep): those its own parameters do not shadow."""
        own = {*self.spec.blocks[g["block"]].params, *(g["template"] or {}), "in_channels"}
        return {k: self.spec.params[k] if k in self.spec.params and k not in own else v for k, v in g["params"].items()}

    def block_reads(self, name: str) -> tuple[str, ...]:
        """The words of the expressions of a block and of the blocks it uses (all of them when a
        parameter names a kind)."""
        reads = self.reads.get(("block", name))
        if reads is None:
            found, todo, words = {name}, [name], frozenset()
            while todo:
                layers = self.spec.blocks[todo.pop()].layers
                words |= _names(layers)
                used = set(self.spec.blocks) if any("$" in w for w in _words(layers) if isinstance(w, str)) else _words(layers) & set(self.spec.blocks)
                todo += [b for b in used if b not in found]
                found |= used
            reads = self.reads[("block", name)] = tuple(sorted(words))
        return reads

    def mark(self) -> tuple[int, ...]:
        return len(self.nodes), len(self.groups), len(self.expectations), len(self.define_log), len(self.errors)

    def remember(self, key: tuple, mark: tuple[int, ...], block: bool, x: Tensor, out: Tensor, full: tuple[str, ...], depth: int) -> None:
        n0, g0, e0, d0, faults = mark
        if len(self.errors) != faults or out.source == POISONED or (self.define_log[d0:] and not block):
            return
        prefix = ".".join(full)
        nodes, groups, expectations = self.nodes[n0:], self.groups[g0:], self.expectations[e0:]
        if not groups or any(n.shares is not None for n in nodes) or any(not n.path.startswith(prefix) for n in nodes) \
                or any(not g["path"].startswith(prefix) for g in groups) \
                or any(not e.path.startswith(prefix) for e in expectations):
            return
        outside = {(x.source, x.port), (-1, 0)}
        ports = [p for n in nodes for p in (*n.inputs, *n.refs)] + [p for g in groups for p in (g["input"], g["output"])] + [Port(out.source, out.port)]
        if any(p.node < n0 and (p.node, p.port) not in outside for p in ports):
            return
        conditions = self.conditions[len(self.conditions) - self.conditions_since(n0):]
        self.memo[key] = Fold(prefix, depth, n0, x, out, tuple(nodes), tuple(self.results[n0:]), tuple(dict(g) for g in groups), tuple(conditions),
                               tuple(expectations), tuple(self.define_log[d0:]))

    def conditions_since(self, n0: int) -> int:
        """How many of the last conditions belong to nodes from ``n0`` on."""
        count = 0
        for index, _, _ in reversed(self.conditions):
            if index < n0:
                break
            count += 1
        return count

    def replay(self, done: "Fold", item: Any, x: Tensor, full: tuple[str, ...], depth: int, plan: Optional["_Plan"] = None) -> Optional[Tensor]:
        """A copy of ``done`` at ``x``, its nodes and groups under ``full``; None when the copy
        would pass a limit or a layer refuses the field entering it (folded anew, to be refused
        at its place). ``plan``: what every copy of ``done`` as ``item`` at ``depth`` repeats
        (:meth:`copy_plan`), made by the caller for a row of copies."""
        start = len(self.nodes)
        if start + len(done.nodes) > self.max_layers or len(self.groups) + len(done.groups) > self.max_layers:
            return None  # folded anew, to be refused at its place
        if plan is None:
            plan = self.copy_plan(done, item, depth)
        shift = start - done.start
        make_port = plan.make_port  # the copy's ports: two a node, one a group's end
        here = make_port(x.source, x.port)
        entering = (x.rf, x.is_global)
        if entering == plan.entered:
            results, conditions = done.results, done.conditions
        else:
            fold = done.fields.get(entering)
            if fold is None:
                fold = self.refold(done, x, here, start)
                if fold is None:
                    return None
                done.fields[entering] = fold
            results, conditions = fold
        if conditions:
            self.conditions.extend([(index + shift, size, message) for index, size, message in conditions])
        prefix = ".".join(full)
        append, append_result = self.nodes.append, self.results.append
        make_node = plan.make_node
        for (node, suffix, node_depth, inputs, refs, one), result in zip(plan.nodes, results):
            # a port is an int: an offset into the copy's own nodes; else a tensor from outside it
            if one is None:
                ports = tuple([make_port(start + p, q) if type(p) is int else (here if p is _ENTERED else p) for p, q in inputs])
            else:  # the common case: one input, an output of the copy's own nodes or the tensor entering it
                ports = (make_port(start + one, inputs[0][1]),) if type(one) is int else (here,)
            append(make_node(
                node.index + shift, prefix + suffix, node.name, node.kind, node.layer, ports,
                node_depth, node.pos, node.outputs, node.group, node.written, node.template, node.synthetic,
                tuple([make_port(start + p, q) if type(p) is int else (here if p is _ENTERED else p) for p, q in refs]) if refs else (),
                node.functional, node.shares,
            ))
            append_result(result)
        first_group = len(self.groups)
        append_group = self.groups.append
        for g, suffix, (p, q), (r, s), index, parent in plan.groups:
            append_group({
                **g, "index": first_group + index, "path": prefix + suffix, "first": g["first"] + shift, "end": g["end"] + shift,
                "input": make_port(start + p, q) if type(p) is int else (here if p is _ENTERED else p),
                "output": make_port(start + r, s) if type(r) is int else (here if r is _ENTERED else r),
                "parent": None if parent is None else first_group + parent,
            })
        if plan.expectations:
            cut = len(done.prefix)
            for e in plan.expectations:
                self.expectations.append(Expectation(prefix + e.path[cut:], e.key, e.expected, e.pos))
        for name, (p, q) in plan.defines:
            port = make_port(start + p, q) if type(p) is int else (here if p is _ENTERED else p)
            self.seen.add(name)
            self.names.setdefault(port, name)
            self.define_log.append((name, port))
        p, q = plan.out
        if type(p) is int:
            result = self.results[start + p]
            return tensor_of(result.shape if q == 0 else result.shapes[q], result.rf, bool(result.is_global), start + p, q, done.out.siblings)
        out = here if p is _ENTERED else p
        if out == here:
            return x
        result = self.results[out.node]
        return tensor_of(result.shape if out.port == 0 else result.shapes[out.port], result.rf, bool(result.is_global), out.node, out.port, done.out.siblings)

    def copy_plan(self, done: "Fold", item: Any, depth: int) -> "_Plan":
        """What every copy of ``done`` as ``item`` at ``depth`` repeats, worked out once: each
        node's path below the fold and its ports (as :func:`_ports` reads them), each group's
        record but for its place (the outermost at ``item``'s position and, a block use, with
        its parameters as written there; a block use's parameters with this spec's params),
        the ids it gives. Not kept in the fold: a memo shared by builds serves other params."""
        lift, cut, g0 = depth - done.depth, len(done.prefix), done.groups[0]["index"]
        local = _local(done)
        nodes = []
        for node, (inputs, refs) in zip(done.nodes, _ports(done)):
            one = inputs[0] if len(inputs) == 1 and (type(inputs[0]) is int or inputs[0] is _ENTERED) else None
            nodes.append((node, node.path[cut:], node.depth + lift, tuple(zip(inputs, [q.port for q in node.inputs])), tuple(zip(refs, [q.port for q in node.refs])), one))
        pos = self.positions.get(item.path)
        if pos is None:  # the copies of a repeat are one item: one position for all of them
            pos = self.positions[item.path] = self.spec.pos(item.path)
        groups = []
        for g in done.groups:
            g = {**g, "depth": g["depth"] + lift}
            if len(groups) == len(done.groups) - 1:  # the outermost
                g.update(pos=pos, template=item.template if g["role"] == "block" else g["template"])
            if g["role"] == "block":
                g["params"] = self.block_params(g)
            groups.append((g, g["path"][cut:], local(g["input"]), local(g["output"]), g["index"] - g0, None if g["parent"] is None else g["parent"] - g0))
        return _Plan((done.x.rf, done.x.is_global), nodes, groups, done.expectations, [(name, local(port)) for name, port in done.defines],
                     local(Port(done.out.source, done.out.port)), positional_constructor(Node), positional_constructor(Port))

    def replay_copies(self, item: Any, x: Tensor, prefix: tuple[str, ...], r: int, repeat: int, depth: int, env: dict) -> tuple[int, Tensor]:
        """Copies ``r`` .. of a repeat whose copies all read as one ``item`` (no ``i`` in it, one
        name), copied from the memo without asking it again for each: a copy whose output has its
        input's shape and siblings leaves the next copy the same key (nothing else in a key
        changes from copy to copy), so the same fold. Stops at the first copy that
        :meth:`replay` cannot make (the caller folds it anew, where its fault or limit is met),
        and at a copy that changes the shape. Returns the next copy to fold and the tensor entering
        it. (A copy the memo has no fold for is asked twice, here and in ``fold_one``: a key costs
        a few microseconds, the fold anew that follows a hundred times more.)"""
        kind = ALIASES.get(item.kind, item.kind)
        key = self.memo_key(kind, item, x, {**env, "i": r}) if kind in self.spec.blocks or kind in STRUCTURAL else None
        done = self.memo.get(key) if key is not None else None
        if done is None:
            return r, x
        shape, siblings = x.shape, x.siblings
        plan = self.copy_plan(done, item, depth)
        while r < repeat:
            out = self.replay(done, item, x, (*prefix, str(r)), depth, plan)
            if out is None:
                break
            x, r = out, r + 1
            if x.source < 0 or x.shape != shape or x.siblings != siblings:
                break
        return r, x

    def refold(self, done: "Fold", x: Tensor, here: Port, first: int) -> Optional[tuple[list, list]]:
        """The copied nodes' results on ``x`` (read at ``here``; the copy's nodes start at
        ``first``), which has another receptive field; None when a layer refuses it (folded
        anew, for the error at its place)."""
        made: list[Result] = []
        conditions: list[tuple[int, Any, Any]] = []  # by the indices of the first fold, as its own

        def tensor(p: Any, port: int) -> Tensor:
            if type(p) is int:
                result = made[p]
                return tensor_of(result.shape if port == 0 else result.shapes[port], result.rf, bool(result.is_global), first + p, port, len(result.shapes))
            return x if p is _ENTERED or p == here else self.network_input

        refielders = done.refielders  # every copy's tensors have the fold's shapes: made at the first copy's
        fields_only = not self.symbolic
        for j, (node, was, (inputs, refs)) in enumerate(zip(done.nodes, done.results, _ports(done))):
            if fields_only and len(inputs) == 1 and not refs:
                p = inputs[0]  # the field it reads, without a tensor (a node's outputs share one)
                source = made[p] if type(p) is int else tensor(p, 0)  # else the tensor entering the fold, or the network input
                rf, is_global = source.rf, bool(source.is_global)
                refield = refielders.get(j)
                if refield is None:
                    refield = refielders[j] = node.layer.refielder(tensor(p, node.inputs[0].port), was)
                if refield is same_field:  # the input's field, within the bounds as it is there
                    made.append(with_field(was, rf, is_global))
                    continue
                result = _with_field(was, refield(rf, is_global))
                if result is not None:
                    made.append(result)
                    continue
                xs = [tensor(p, node.inputs[0].port)]
            else:
                if fields_only and not refs and inputs:
                    refield = refielders.get(j)
                    if refield is None:
                        refield = refielders[j] = node.layer.refielder_many([tensor(p, q.port) for p, q in zip(inputs, node.inputs)], was)
                    sources = [made[p] if type(p) is int else tensor(p, 0) for p in inputs]
                    result = _with_field(was, refield([(source.rf, bool(source.is_global)) for source in sources]))
                    if result is not None:
                        made.append(result)
                        continue
                xs = [tensor(p, q.port) for p, q in zip(inputs, node.inputs)]
            try:
                result, found = run(node.layer, xs, self.symbolic, [tensor(p, q.port) for p, q in zip(refs, node.refs)])
            except LayerError:
                return None
            index = done.start + len(made)
            made.append(result)
            conditions += [(index, size, message) for size, message in found]
        return tuple(made), tuple(conditions)


def _ports(done: Fold) -> list[tuple[tuple, tuple]]:
    """Per node of a fold, its inputs and refs as the copies read them: an int for an output of
    one of the fold's own nodes (its offset from the first), ``_ENTERED`` for the tensor that
    entered the fold, any other port as it is (the network input). Made at the fold's first
    copy, kept in its ``ports``."""
    ports = done.ports
    if len(ports) != len(done.nodes):
        offset = _local(done)
        ports[:] = [(tuple([offset(p)[0] for p in n.inputs]), tuple([offset(p)[0] for p in n.refs])) for n in done.nodes]
    return ports


def _local(done: Fold) -> Any:
    """A port of a fold as its copies read it: ``(offset, port)`` for an output of one of the
    fold's own nodes (its offset from the first), ``(_ENTERED, port)`` for the tensor that
    entered the fold, ``(p, port)`` for any other port ``p`` (the network input)."""
    entered = Port(done.x.source, done.x.port)

    def local(p: Port) -> tuple[Any, int]:
        if p.node >= done.start:
            return p.node - done.start, p.port
        return (_ENTERED if p == entered else p), p.port

    return local


@dataclass(frozen=True)
class _Plan:
    """What every copy of a fold at one place repeats (:meth:`FoldMemo.copy_plan`)."""

    entered: tuple  # the (receptive field, is_global) the fold was made on
    nodes: list  # per node: (node, path below the fold, depth, inputs, refs, its one input's offset | _ENTERED | None);
    # a port as (offset | _ENTERED | Port, port)
    groups: list  # per group: (record but for its place, path below the fold, input, output, index and parent from the first)
    expectations: tuple[Expectation, ...]
    defines: list  # (id, port)
    out: tuple  # the fold's output, as a port above
    make_node: Any  # positional_constructor(Node)
    make_port: Any


_ENTERED = "entered"  # a port of the tensor entering a fold, in ``_ports``


def _with_field(was: Result, field: Optional[tuple]) -> Optional[Result]:
    """``was`` (a layer's result on inputs of the copy's shapes) with the receptive field that
    the kind says the copy's inputs give it (``LayerKind.refield``, ``refield_many``); None when
    it cannot say (``field`` None), or when the field grows past its bound (inferred again, to
    be refused)."""
    if field is None or (field[0] and not rf_within_bounds(field[0])):
        return None
    return with_field(was, field[0], bool(field[1]))
