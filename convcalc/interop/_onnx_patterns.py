"""Nodes that together are one convcalc layer: what an exporter decomposed, recognised again.

``find_patterns`` looks at the graph's structure only (operator types and which node reads
which), before any value is known; each :class:`Pattern` it finds is emitted when the walk reaches
its last node, its anchor, and may still find that its constants do not fit (``Unsupported``): then
its nodes are read one by one after all. A pattern's inner tensors must be read only inside it.

- SiLU: ``x * sigmoid(x)``; hardswish: ``x * hardsigmoid(x)`` (alpha 1/6, beta 1/2).
- A linear layer with bias: ``MatMul(x, W)`` then ``Add`` of a learned vector.
- A reshape written as ``Gather(Reshape(x, [-1]), indices)`` with the indices in order (how
  ``as_strided`` is exported): a reshape to the indices' shape.
- Group norm as torch writes it: ``Reshape(x, [0, G, -1])``, ``InstanceNormalization``, a
  ``Reshape`` back, then the ``Mul`` and ``Add`` of its per-channel weight and bias.
- Zero padding read only by a convolution: the convolution's own (unequal) padding, as
  TensorFlow's ``same`` at stride 2 is written.
- Scaled dot-product attention as torch.onnx writes it: ``softmax((q * s) @ (k^T * s)) @ v``, k
  transposed through reshapes that fold the batch into the heads, the scale computed from q's
  shape: one ``scaled_dot_product_attention`` of q, k and v.
- ``nn.MultiheadAttention`` as torch.onnx writes it: every node of the module's scope (the
  exporter records its class) is one ``multihead_attention``, its sizes read from the projection
  weights and the head count from the reshape that splits the heads.
- Local response norm as ``torch.nn.functional.local_response_norm`` writes it: ``x / (k + alpha *
  avg_pool(pad(x * x)))^beta``, the pool across the channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from convcalc.interop._imported import Scope, Unsupported
from convcalc.interop._onnx_ops import conv, linear, norm_eps, unary
from convcalc.interop._onnx_values import Const, Live, attributes, f32, scope_of

__all__ = ["Pattern", "find_patterns"]


@dataclass(frozen=True)
class Pattern:
    nodes: tuple[int, ...]  # in graph order; the last is the anchor
    emit: Callable  # (importer, scope) -> the anchor's outputs


def find_patterns(nodes: list, producer: dict[str, int], consumers: dict[str, list[int]], inputs: set[str] = frozenset()) -> dict[int, Pattern]:
    """``inputs``: the graph's input tensors (what the network computes from)."""
    live = _live(nodes, inputs)
    found: dict[int, Pattern] = {}
    claimed: set[int] = set()
    for pattern in _modules(nodes, producer, consumers, live):
        found[pattern.nodes[-1]] = pattern
        claimed.update(pattern.nodes)
    for i, node in enumerate(nodes):
        if i in claimed:
            continue
        for match in (_gated, _linear_bias, _flat_gather, _group_norm, _pad_conv, _attention, _lrn):
            pattern = match(i, node, nodes, producer, consumers) if match is not _attention else match(i, node, nodes, producer, consumers, live)
            if pattern is not None and not (set(pattern.nodes) & claimed):
                found[i] = pattern
                claimed.update(pattern.nodes)
                break
    return found


def _live(nodes: list, inputs: set[str]) -> set[str]:
    """The tensors whose values depend on the network's input (a shape does not)."""
    live = set(inputs)
    for node in nodes:
        read = node.input[:1] if node.op_type == "CastLike" else node.input  # CastLike's second input gives only its type
        if node.op_type not in ("Shape", "Size") and any(name in live for name in read):
            live.update(name for name in node.output if name)
    return live


def _only_reader(name: str, reader: int, consumers: dict[str, list[int]]) -> bool:
    return consumers.get(name, []) == [reader]


def _made_by(name: str, ops: tuple[str, ...], reader: int, nodes, producer, consumers) -> Optional[int]:
    """The node, of one of ``ops``, that writes tensor ``name`` when node ``reader`` alone reads it."""
    j = producer.get(name)
    if j is None or nodes[j].op_type not in ops or not _only_reader(name, reader, consumers):
        return None
    return j


def _gated(i: int, node, nodes, producer, consumers):
    """``x * sigmoid(x)`` (SiLU), ``x * hardsigmoid(x)`` (hardswish)."""
    if node.op_type != "Mul" or len(node.input) != 2:
        return None
    for x, gate in (node.input, reversed(node.input)):
        j = _made_by(gate, ("Sigmoid", "HardSigmoid"), i, nodes, producer, consumers)
        if j is None or list(nodes[j].input) != [x]:
            continue
        gate_node = nodes[j]

        def emit(imp, scope: Scope, x=x, gate_node=gate_node):
            if gate_node.op_type == "HardSigmoid":
                attrs = attributes(gate_node)
                if abs(attrs.get("alpha", 0.2) - 1 / 6) > 1e-6 or abs(attrs.get("beta", 0.5) - 0.5) > 1e-6:
                    raise Unsupported("not hardswish")
            kind = "silu" if gate_node.op_type == "Sigmoid" else "hardswish"
            return unary(imp, kind, imp.values[x], scope)

        return Pattern((j, i), emit)
    return None


def _linear_bias(i: int, node, nodes, producer, consumers):
    if node.op_type != "Add" or len(node.input) != 2:
        return None
    for product, bias in (node.input, reversed(node.input)):
        j = _made_by(product, ("MatMul",), i, nodes, producer, consumers)
        if j is None:
            continue
        x, w = nodes[j].input

        def emit(imp, scope: Scope, x=x, w=w, bias=bias):
            weight, b = imp.values[w], imp.values[bias]
            if not (isinstance(weight, Const) and weight.learned and isinstance(b, Const) and b.learned and len(weight.shape) == 2
                    and b.size == weight.shape[1] and all(d == 1 for d in b.shape[:-1])):
                raise Unsupported("not a linear layer's bias")
            if not isinstance(imp.values[x], Live):
                raise Unsupported("a product of constants")
            return linear(imp, imp.values[x], weight, b, scope)

        return Pattern((j, i), emit)
    return None


def _flat_gather(i: int, node, nodes, producer, consumers):
    if node.op_type != "Gather" or len(node.input) != 2:
        return None
    flat, indices = node.input
    j = _made_by(flat, ("Reshape",), i, nodes, producer, consumers)
    if j is None:
        return None
    x, target = nodes[j].input

    def emit(imp, scope: Scope):
        import numpy as np

        value, order = imp.values[x], imp.values[indices]
        if not isinstance(value, Live) or attributes(node).get("axis", 0) != 0 or imp.ints(imp.values[target], "the shape") != [-1]:
            raise Unsupported("not a reshape")
        wanted = np.asarray(imp.const(order, "the indices"))
        if wanted.size != np.prod(imp.full_shape(value)) or not np.array_equal(wanted.reshape(-1), np.arange(wanted.size)):
            raise Unsupported("not a reshape")
        port = imp.live(value, scope)
        return [Live(imp.builder.reshape_to(port, list(wanted.shape), scope))]

    return Pattern((j, i), emit)


def _group_norm(i: int, node, nodes, producer, consumers):
    """Anchored at the last of Reshape-back, Mul, Add that follow an InstanceNormalization."""
    if node.op_type not in ("Reshape", "Mul", "Add"):
        return None
    chain = [i]
    current = node
    while current.op_type in ("Add", "Mul"):
        j = next((producer[n] for n in current.input if n in producer and nodes[producer[n]].op_type in ("Mul", "Reshape")), None)
        if j is None or not _only_reader(nodes[j].output[0], chain[0], consumers) or (current.op_type == "Mul" and nodes[j].op_type != "Reshape"):
            return None
        chain.insert(0, j)
        current = nodes[j]
    if current.op_type != "Reshape":
        return None
    k = _made_by(current.input[0], ("InstanceNormalization",), chain[0], nodes, producer, consumers)
    r = _made_by(nodes[k].input[0], ("Reshape",), k, nodes, producer, consumers) if k is not None else None
    if r is None:
        return None
    if any(nodes[c].op_type in ("Mul", "Add") for c in consumers.get(node.output[0], []) if c < len(nodes)) and node.op_type != "Add":
        return None  # the affine part follows: anchor there
    x = nodes[r].input[0]
    affine = {nodes[j].op_type: nodes[j] for j in chain[1:]}

    def emit(imp, scope: Scope):
        value = imp.values[x]
        if not isinstance(value, Live) or value.layout is not None:
            raise Unsupported("not a group norm")
        target = imp.ints(imp.values[nodes[r].input[1]], "the shape")
        if len(target) != 3 or target[0] not in (0, imp.batch):
            raise Unsupported("not a group norm")
        port = value.port
        channels = imp.builder.shape(port)[0]
        weights: dict = {}
        for op, n in affine.items():
            other = next((imp.values[name] for name in n.input if isinstance(imp.values.get(name), Const)), None)
            if other is None or (other.learned and other.size != channels):
                raise Unsupported("not a group norm")
            weights.update(other.learned)
        learned = len(weights) == len(affine) == 2
        if weights and not learned:
            raise Unsupported("a group norm with a weight and no bias")
        args = {"num_groups": target[1], **norm_eps(attributes(nodes[k])), **({} if learned else {"affine": False})}
        return [Live(imp.emit("group_norm", args, [port], scope, weights)[0])]

    return Pattern((r, k, *chain), emit)


def _pad_conv(i: int, node, nodes, producer, consumers):
    if node.op_type != "Conv":
        return None
    j = _made_by(node.input[0], ("Pad",), i, nodes, producer, consumers)
    if j is None:
        return None
    pad_node = nodes[j]

    def emit(imp, scope: Scope):
        attrs = attributes(pad_node)
        ins = [imp.values[n] if n else None for n in pad_node.input]
        value = ins[0]
        if not isinstance(value, Live) or value.layout is not None or attrs.get("mode", "constant") != "constant":
            raise Unsupported("not a convolution's padding")
        if len(ins) > 2 and ins[2] is not None and imp.ints(ins[2], "the value") != [0]:
            raise Unsupported("padding with a value other than 0")
        conv_attrs = attributes(node)
        if any(conv_attrs.get("pads", [])) or conv_attrs.get("auto_pad", "NOTSET") != "NOTSET":
            raise Unsupported("a convolution with padding of its own")
        pads = imp.ints(ins[1], "the pads") if "pads" not in attrs else list(attrs["pads"])
        rank = len(pads) // 2
        if len(ins) > 3 and ins[3] is not None or pads[0] or pads[1] or pads[rank] or pads[rank + 1] or any(p < 0 for p in pads):
            raise Unsupported("not a convolution's padding")
        conv_attrs["pads"] = pads[2:rank] + pads[rank + 2:]
        conv_ins = [value, *(imp.values[n] if n else None for n in node.input[1:])]
        return conv(imp, node, conv_ins, conv_attrs, scope)

    return Pattern((j, i), emit)


_LAYOUT = {"Reshape", "Transpose", "Unsqueeze", "Squeeze"}


def _modules(nodes, producer, consumers, live) -> list[Pattern]:
    """The nodes of one call of ``nn.MultiheadAttention`` (its scope and class, as torch.onnx records
    them), each call one pattern anchored at its last node."""
    runs: list[list[int]] = []
    current: Optional[tuple] = None
    for i, node in enumerate(nodes):
        scope = scope_of(node)
        owner = None
        if "MultiheadAttention" in scope.classes:  # the module, or one inside it (its out_proj)
            owner = scope.path[: scope.classes.index("MultiheadAttention") + 1]
        if owner is not None and owner == current and runs:
            runs[-1].append(i)
        elif owner is not None:
            runs.append([i])
        current = owner
    patterns = []
    for run in runs:
        members = [i for i in run if any(n in live for n in nodes[i].output)]
        if not members:
            continue
        inside = {n for i in members for n in nodes[i].output}
        for i in run:  # and what reads their shapes (the scale of the scores), inside the module
            if i not in members and any(n in inside for n in nodes[i].input):
                members.append(i)
                inside.update(nodes[i].output)
        members.sort()
        outputs = [n for i in members for n in nodes[i].output if any(r not in members for r in consumers.get(n, []))]
        sources = list(dict.fromkeys(n for i in members for n in nodes[i].input if n in live and n not in inside))
        if len(outputs) != 1 or not 1 <= len(sources) <= 3 or outputs[0] != nodes[members[-1]].output[0]:
            continue
        patterns.append(Pattern(tuple(members), _attention_module(nodes, members, sources)))
    return patterns


def _attention_module(nodes, members: list[int], sources: list[str]):
    def emit(imp, scope: Scope):
        first = nodes[members[0]]
        if first.op_type != "Transpose" or attributes(first).get("perm") != [1, 0, 2]:
            raise Unsupported("multi-head attention that does not take its input batch first")
        weights: dict = {}
        for i in members:
            for name in nodes[i].input:
                value = imp.values.get(name)
                if isinstance(value, Const):
                    weights.update(value.learned)
        shapes = {name.rsplit(".", 1)[-1]: imp.values[name].shape for name in weights}
        if "in_proj_weight" in shapes:
            embed = shapes["in_proj_weight"][1]
            kdim = vdim = embed
        elif "weight" in shapes and "q_proj_weight" in shapes:
            embed, kdim, vdim = shapes["q_proj_weight"][1], shapes["k_proj_weight"][1], shapes["v_proj_weight"][1]
        else:
            raise Unsupported("multi-head attention without its projection weights")
        heads = set()
        for i in members:
            if nodes[i].op_type == "Reshape" and nodes[i].input[1] in imp.values:
                target = imp.values[nodes[i].input[1]]
                if isinstance(target, Const) and target.get() is not None:
                    dims = [int(d) for d in target.get().reshape(-1).tolist()]
                    if len(dims) == 4 and dims[1] * dims[3] == embed and 0 < dims[3] < embed:  # (N, heads, L, head_dim)
                        heads.add(dims[1])
        if len(heads) > 1:
            raise Unsupported("multi-head attention whose head count convcalc cannot read")
        args = {"embed_dim": embed, "num_heads": heads.pop() if heads else 1, **({} if any(n.endswith("in_proj_bias") for n in weights) else {"bias": False})}
        if kdim != embed:
            args["kdim"] = kdim
        if vdim != embed:
            args["vdim"] = vdim
        ports = [imp.live(imp.values[n], scope) for n in sources]
        return [Live(imp.emit("multihead_attention", args, ports, scope, dict(weights))[0])]

    return emit


def _attention(i: int, node, nodes, producer, consumers, live):
    """Anchored at ``MatMul(Softmax(MatMul(a, b)), v)``; a and b reach q and k through scalings
    and layout changes only."""
    if node.op_type != "MatMul" or len(node.input) != 2:
        return None
    weights, v = node.input
    s = _made_by(weights, ("Softmax",), i, nodes, producer, consumers)
    m = _made_by(nodes[s].input[0], ("MatMul",), s, nodes, producer, consumers) if s is not None else None
    if m is None:
        return None
    inner = [s, m]

    def back(name: str, reader: int, allowed: set[str]) -> str:
        """Walk up through nodes of ``allowed`` read only by the walk: the tensor they start from."""
        while True:
            j = _made_by(name, tuple(allowed), reader, nodes, producer, consumers)
            if j is None:
                return name
            data = [n for n in nodes[j].input if n in live]
            if len(data) != 1:
                return name
            inner.append(j)
            name, reader = data[0], j
    a, b = nodes[m].input
    q = back(a, m, {"Mul", "Div"})
    k = back(b, m, {"Mul", "Div"} | _LAYOUT)
    if not all(name in live for name in (q, k, v)) or b not in producer or len(inner) < 4:
        return None  # q and k each reached through at least one scaling or layout node: not a plain product
    chain = sorted(set(inner))

    def emit(imp, scope: Scope):
        values = [imp.values.get(n) for n in (q, k, v)]
        if not all(isinstance(x, Live) for x in values) or attributes(nodes[s]).get("axis", -1) not in (-1, len(imp.full_shape(values[0])) - 1):
            raise Unsupported("not attention")
        ports = [imp.live(x, scope) for x in values]
        return [Live(imp.emit("scaled_dot_product_attention", {}, ports, scope)[0])]

    return Pattern((*chain, i), emit)


_LRN_INNER = {"Mul", "Reshape", "Unsqueeze", "Squeeze", "Pad", "AveragePool", "Add", "Pow", "Identity", "Cast"}


def _lrn(i: int, node, nodes, producer, consumers):
    """``x / (k + alpha * avg_pool(pad(x * x)))^beta``: from the square forward to the divide."""
    if node.op_type != "Div" or len(node.input) != 2:
        return None
    x, denominator = node.input
    square = next((j for j in consumers.get(x, []) if j < i and nodes[j].op_type == "Mul" and list(nodes[j].input) == [x, x]), None)
    if square is None:
        return None
    inner = {square}
    frontier = [square]
    while frontier:
        j = frontier.pop()
        for out in nodes[j].output:
            for reader in consumers.get(out, []):
                if reader == i or reader in inner:
                    continue
                if reader > i or reader >= len(nodes) or nodes[reader].op_type not in _LRN_INNER:
                    return None
                inner.add(reader)
                frontier.append(reader)
    if producer.get(denominator) not in inner:
        return None
    types = [nodes[j].op_type for j in sorted(inner)]
    if types.count("AveragePool") != 1 or "Pow" not in types:
        return None
    chain = sorted(inner)

    def emit(imp, scope: Scope):
        value = imp.values[x]
        if not isinstance(value, Live) or value.layout is not None:
            raise Unsupported("not a local response norm")
        pool = next(nodes[j] for j in chain if nodes[j].op_type == "AveragePool")
        constants = {}
        for j in chain:
            if nodes[j].op_type in ("Mul", "Add", "Pow") and j != square:
                found = [imp.values[n] for n in nodes[j].input if isinstance(imp.values.get(n), Const)]
                if len(found) != 1 or found[0].size != 1:
                    raise Unsupported("not a local response norm")
                constants[nodes[j].op_type] = float(imp.const(found[0], "a constant").reshape(-1)[0])
        if set(constants) != {"Mul", "Add", "Pow"}:
            raise Unsupported("not a local response norm")
        size = attributes(pool)["kernel_shape"][0]
        args = {"size": size, "alpha": f32(constants["Mul"]), "beta": f32(constants["Pow"]), "k": f32(constants["Add"])}
        port = imp.emit("local_response_norm", args, [value.port], scope)[0]
        return [Live(port)]

    return Pattern((*chain, i), emit)
