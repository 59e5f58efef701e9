"""The backward pass of a small convolution or pooling, by hand and exactly (forward rules in
:mod:`convcalc.teach.handcalc`).

Given the upstream gradient ``dL/dY`` (``grad``: shaped like the output, all ones by default, as
``y.sum().backward()`` gives), every number equals PyTorch's autograd (``tests/test_backward.py``):

- Convolution, ``Y[o,i,j] = b[o] + sum_{c,u,v} xp[g*C_g + c, i*s_h + u*d_h, j*s_w + v*d_w] * w[o,c,u,v]``
  over the padded input ``xp`` (``g`` the filter's group, ``C_g`` its channels):

  - ``dL/db[o] = sum_{i,j} dL/dY[o,i,j]``;
  - ``dL/dW[o,c,u,v] = sum_{i,j} dL/dY[o,i,j] * xp[g*C_g + c, i*s_h + u*d_h, j*s_w + v*d_w]``: the
    padded input cross-correlated with ``dL/dY`` (its elements spread ``s`` apart for a stride ``s``);
  - ``dL/dxp[ch,r,q]`` sums ``dL/dY[o,i,j] * w[o,c,u,v]`` over every product that read ``xp[ch,r,q]``;
    at stride 1 and dilation 1 this is ``dL/dY`` zero-padded by ``k-1`` on every side and
    cross-correlated with the flipped kernel (the "full convolution" of the lecture notes);
  - ``dL/dX[h,w]`` sums ``dL/dxp`` over the padded cells that read ``x[h,w]``: only its own cell for
    zero padding, the border copies too for ``replicate`` and ``reflect``.

  A true convolution (``flip``) runs with the flipped kernel ``w'``; ``dL/dW`` is ``dL/dW'``
  flipped back.
- Max (and min) pooling sends each output's gradient to the one cell that won its window. A tie
  goes to the first of the tied cells in row-major order: PyTorch's CPU kernel keeps the first
  maximum and replaces it only by a strictly larger value. Every tie is named.
- Average pooling spreads each output's gradient evenly, ``dL/dY / (k_h*k_w)`` to every cell of its
  window; the shares of padded cells (``count_include_pad=True``) reach no input.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Union

from convcalc.errors import UsageError
from convcalc.teach.handcalc import (
    Array,
    ConvSetup,
    Number,
    Pair,
    PoolMode,
    PoolSetup,
    Stack,
    depth,
    format_number,
    setup_conv,
    setup_pool,
    to_array,
)

__all__ = ["ConvGradients", "PoolGradients", "conv_backward", "conv_gradients", "pool_backward", "pool_gradients"]

Bias = Union[Number, tuple[Number, ...]]


@dataclass(frozen=True)
class ConvGradients:
    """dL/dW, dL/db and dL/dX of a convolution, each in the form its tensor was given, with every
    element worked out and the rules it used."""

    grad_output: Array
    grad_weight: Array
    grad_bias: Bias
    grad_input: Array
    rules: tuple[str, ...]
    weight_steps: tuple[str, ...]
    bias_steps: tuple[str, ...]
    input_steps: tuple[str, ...]


@dataclass(frozen=True)
class PoolGradients:
    """dL/dX of a pooling, every element worked out, and the ties that decided where a max went."""

    grad_output: Array
    grad_input: Array
    rules: tuple[str, ...]
    input_steps: tuple[str, ...]
    ties: tuple[str, ...]


def _exact(value: Number) -> Number:
    return value.numerator if isinstance(value, Fraction) and value.denominator == 1 else value


def _factor(value: Number) -> str:
    text = format_number(value)
    return f"({text})" if value < 0 or "/" in text else text


def _at(name: str, *index: int) -> str:
    return f"{name}[{','.join(map(str, index))}]"


def _line(label: str, symbols: list[str], values: list[str], total: Number, none: str) -> str:
    """``label = a*b + c*d = 1*2 + 3*4 = 14``, each form once; ``label = 0 (none)`` for an empty sum."""
    if not symbols:
        return f"{label} = 0 ({none})"
    forms = [" + ".join(symbols)]
    for form in (" + ".join(values), format_number(total)):
        if form != forms[-1]:
            forms.append(form)
    return f"{label} = {' = '.join(forms)}"


def _grad_stack(grad: Any, shape: tuple[int, ...], stacked: bool) -> Stack:
    """The upstream gradient as one matrix per output channel; all ones when not given."""
    channels, rows, cols = shape
    if grad is None:
        return tuple(tuple((1,) * cols for _ in range(rows)) for _ in range(channels))
    array = to_array(grad)
    stack = array if depth(array) == 3 else (array,) if depth(array) == 2 else None
    got = None if stack is None else (len(stack), len(stack[0]), len(stack[0][0]))
    if got != shape or (depth(array) == 2 and stacked):
        want = "x".join(map(str, shape if stacked else shape[1:]))
        given = "a list of filters" if got is None else "x".join(map(str, got if depth(array) == 3 else got[1:]))
        raise UsageError("apply-bad-grad", f"the upstream gradient --grad is {given}; it must be shaped like the output, {want}")
    return stack


# ---------------------------------------------------------------------------------------------
# Convolution


def conv_gradients(setup: ConvSetup, grad: Any = None) -> ConvGradients:
    """The gradients of ``setup``'s convolution for the upstream gradient ``grad`` (see the module
    docstring for the rules)."""
    filters, (rows, cols) = len(setup.bank), setup.out_shape
    dy = _grad_stack(grad, (filters, rows, cols), not setup.single)
    y_name = (lambda o, i, j: _at("dY", i, j)) if setup.single else (lambda o, i, j: _at("dY", o, i, j))
    padded_name = "xp" if _is_padded(setup) else "x"
    x_name = (lambda ch, r, q: _at(padded_name, ch, r, q)) if setup.input_stacked else (lambda ch, r, q: _at(padded_name, r, q))
    positions = [(i, j) for i in range(rows) for j in range(cols)]
    flip = setup.flip
    (kh, kw) = setup.kernel_shape

    weight_steps, grad_bank = [], []
    for o in range(filters):
        channels = []
        for c in range(setup.group_in):
            matrix = []
            for a in range(kh):
                row = []
                for b in range(kw):
                    u, v = (kh - 1 - a, kw - 1 - b) if flip else (a, b)
                    symbols, values, total = [], [], 0
                    for i, j in positions:
                        ch, r, q, *_ = setup.taps(o, i, j)[(c * kh + u) * kw + v]
                        x = setup.padded[ch][r][q]
                        symbols.append(f"{y_name(o, i, j)}*{x_name(ch, r, q)}")
                        values.append(f"{_factor(dy[o][i][j])}*{_factor(x)}")
                        total += dy[o][i][j] * x
                    row.append(_exact(total))
                    weight_steps.append(_line(_weight_label(setup, o, c, a, b), symbols, values, row[-1], "no output"))
                matrix.append(tuple(row))
            channels.append(tuple(matrix))
        grad_bank.append(tuple(channels))

    bias_steps, grad_bias = [], []
    for o in range(filters):
        symbols = [y_name(o, i, j) for i, j in positions]
        values = [_factor(dy[o][i][j]) for i, j in positions]
        grad_bias.append(_exact(sum(dy[o][i][j] for i, j in positions)))
        label = "dL/db" if setup.single else _at("dL/db", o)
        bias_steps.append(f"{label} = {' + '.join(symbols)} = {' + '.join(values)} = {format_number(grad_bias[-1])}")

    reads: dict[tuple[int, int, int], list[tuple[int, int, int, int, int, int]]] = defaultdict(list)
    for o in range(filters):
        for i, j in positions:
            for ch, r, q, c, u, v in setup.taps(o, i, j):
                h, w = setup.rows[r], setup.cols[q]
                if h is not None and w is not None:
                    reads[ch, h, w].append((o, i, j, c, u, v))
    input_steps, grad_input = [], []
    height, width = len(setup.input[0]), len(setup.input[0][0])
    for ch in range(len(setup.input)):
        matrix = []
        for h in range(height):
            row = []
            for w in range(width):
                taps = reads[ch, h, w]
                given = [(kh - 1 - u, kw - 1 - v) if flip else (u, v) for *_, u, v in taps]
                symbols = [
                    f"{y_name(o, i, j)}*{_weight_name(setup, o, c, a, b)}" for (o, i, j, c, _, _), (a, b) in zip(taps, given)
                ]
                values = [f"{_factor(dy[o][i][j])}*{_factor(setup.bank[o][c][u][v])}" for o, i, j, c, u, v in taps]
                row.append(_exact(sum(dy[o][i][j] * setup.bank[o][c][u][v] for o, i, j, c, u, v in taps)))
                label = _at("dL/dX", ch, h, w) if setup.input_stacked else _at("dL/dX", h, w)
                input_steps.append(_line(label, symbols, values, row[-1], "no window reads it"))
            matrix.append(tuple(row))
        grad_input.append(tuple(matrix))

    return ConvGradients(
        grad_output=setup.as_output(dy),
        grad_weight=setup.as_kernel(tuple(grad_bank)),
        grad_bias=grad_bias[0] if setup.single else tuple(grad_bias),
        grad_input=setup.as_input(tuple(grad_input)),
        rules=_conv_rules(setup),
        weight_steps=tuple(weight_steps),
        bias_steps=tuple(bias_steps),
        input_steps=tuple(input_steps),
    )


def _is_padded(setup: ConvSetup) -> bool:
    return len(setup.rows) > len(setup.input[0]) or len(setup.cols) > len(setup.input[0][0])


def _weight_index(setup: ConvSetup, o: int, c: int, a: int, b: int) -> tuple[int, ...]:
    return (a, b) if setup.kernel_depth == 2 else (c, a, b) if setup.kernel_depth == 3 else (o, c, a, b)


def _weight_label(setup: ConvSetup, o: int, c: int, a: int, b: int) -> str:
    return _at("dL/dW", *_weight_index(setup, o, c, a, b))


def _weight_name(setup: ConvSetup, o: int, c: int, a: int, b: int) -> str:
    return _at("w", *_weight_index(setup, o, c, a, b))


def _conv_rules(setup: ConvSetup) -> tuple[str, ...]:
    """The identities behind the steps, with this case's stride, dilation and kernel."""
    (sh, sw), (dh, dw), (kh, kw) = setup.stride, setup.dilation, setup.kernel_shape
    spread = "" if (sh, sw) == (1, 1) else f", its elements spread {_pair((sh, sw))} apart (the stride)"
    taken = "" if (dh, dw) == (1, 1) else f", taken every {_pair((dh, dw))} (the dilation)"
    rules = [
        "dL/db = the sum of dL/dY over the output positions (one per filter)",
        f"dL/dW = the padded input cross-correlated with dL/dY{spread}{taken}",
    ]
    if (sh, sw, dh, dw) == (1, 1, 1, 1):
        rules.append(
            f"dL/dX = dL/dY zero-padded by k-1 = {_pair((kh - 1, kw - 1))} on every side, cross-correlated "
            "with the flipped kernel (the full convolution of dL/dY with W)"
            + (", cropped to the input (padded cells keep no gradient)" if _is_padded(setup) else "")
        )
    else:
        rules.append("dL/dX[h,w] = the sum of dL/dY * w over every product that read x[h,w]")
    if _is_padded(setup) and None not in setup.rows + setup.cols:
        rules.append("replicate / reflect padding: a border cell also collects the gradient of its copies in the padding")
    if setup.flip:
        rules.append("true convolution: the forward pass used the flipped kernel; dL/dW is flipped back to the kernel as given")
    return tuple(rules)


def _pair(pair: Pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"({pair[0]}, {pair[1]})"


def conv_backward(input: Any, kernel: Any, grad: Any = None, **options: Any) -> ConvGradients:
    """dL/dW, dL/db and dL/dX of ``cross_correlate(input, kernel, **options)`` for the upstream
    gradient ``grad`` (all ones when None); ``options`` are those of :func:`setup_conv` (a bias
    changes no gradient)."""
    return conv_gradients(setup_conv(input, kernel, **options), grad)


# ---------------------------------------------------------------------------------------------
# Pooling


def _winner(setup: PoolSetup, c: int, i: int, j: int) -> tuple[Pair, list[Pair]]:
    """The cell a max (min) window routes its gradient to, and every cell tied with it."""
    cells = [cell for cell in setup.cells(c, i, j) if cell is not None]
    values = [setup.channels[c][r][q] for r, q in cells]
    best = max(values) if setup.mode is PoolMode.MAX else min(values)
    tied = [cell for cell, value in zip(cells, values) if value == best]
    return tied[0], tied


def pool_gradients(setup: PoolSetup, grad: Any = None) -> PoolGradients:
    """dL/dX of ``setup``'s pooling for the upstream gradient ``grad`` (rules in the module docstring)."""
    channels, (rows, cols) = len(setup.channels), setup.out_shape
    dy = _grad_stack(grad, (channels, rows, cols), setup.stacked)
    window = setup.kernel_size[0] * setup.kernel_size[1]
    y_name = (lambda c, i, j: _at("dY", c, i, j)) if setup.stacked else (lambda c, i, j: _at("dY", i, j))
    shares: dict[tuple[int, int, int], list[tuple[str, str, Number]]] = defaultdict(list)
    ties = []
    for c in range(channels):
        for i in range(rows):
            for j in range(cols):
                if setup.mode is PoolMode.AVG:
                    for cell in setup.cells(c, i, j):
                        if cell is not None:
                            share = Fraction(dy[c][i][j]) / window
                            shares[(c, *cell)].append((f"{y_name(c, i, j)}/{window}", f"{_factor(dy[c][i][j])}/{window}", share))
                    continue
                (r, q), tied = _winner(setup, c, i, j)
                shares[c, r, q].append((y_name(c, i, j), _factor(dy[c][i][j]), dy[c][i][j]))
                if len(tied) > 1:
                    where = ", ".join(f"({a},{b})" for a, b in tied)
                    ties.append(
                        f"{setup.label(c, i, j)}: {setup.mode.value} {format_number(setup.channels[c][r][q])} at {where}; "
                        f"the gradient goes to ({r},{q}), the first in row-major order, as PyTorch picks"
                    )
    steps, grad_input = [], []
    height, width = len(setup.channels[0]), len(setup.channels[0][0])
    none = "in no window" if setup.mode is PoolMode.AVG else f"the {setup.mode.value} of no window"
    for c in range(channels):
        matrix = []
        for h in range(height):
            row = []
            for w in range(width):
                parts = shares[c, h, w]
                row.append(_exact(sum(share for *_, share in parts)))
                label = _at("dL/dX", c, h, w) if setup.stacked else _at("dL/dX", h, w)
                steps.append(_line(label, [s for s, _, _ in parts], [v for _, v, _ in parts], row[-1], none))
            matrix.append(tuple(row))
        grad_input.append(tuple(matrix))
    stack = tuple(grad_input)
    return PoolGradients(
        grad_output=dy if setup.stacked else dy[0],
        grad_input=stack if setup.stacked else stack[0],
        rules=(_pool_rule(setup, window),),
        input_steps=tuple(steps),
        ties=tuple(ties),
    )


def _pool_rule(setup: PoolSetup, window: int) -> str:
    if setup.mode is PoolMode.AVG:
        return (
            f"avg pooling: each dL/dY[i,j] is shared evenly, 1/{window} to every cell of its window "
            "(padded cells take their share too, and it is lost)"
        )
    return (
        f"{setup.mode.value} pooling: each dL/dY[i,j] goes whole to the cell that was the {setup.mode.value} of its "
        "window (a tie: the first in row-major order, as PyTorch); the other cells get 0"
    )


def pool_backward(
    input: Any,
    kernel_size: int | Pair,
    grad: Any = None,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    mode: str = "max",
) -> PoolGradients:
    """dL/dX of ``pool(input, kernel_size, ...)`` for the upstream gradient ``grad`` (all ones when None)."""
    return pool_gradients(setup_pool(input, kernel_size, stride, padding, mode), grad)

