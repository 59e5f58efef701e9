"""``apply --backward``: gradients of small convolutions and poolings by hand, exactly, equal to
PyTorch's autograd.

The lecture notes' backward pass (a 3x3 input, a 2x2 kernel) is described in issue 20 without its
numbers (walkthroughs.yaml has none), so the case below is worked out here with the notes' two
rules written as arithmetic: dL/dW is the input cross-correlated with dL/dY, and dL/dX is dL/dY
zero-padded by k-1 and cross-correlated with the flipped kernel.
"""

from __future__ import annotations

import os
from fractions import Fraction as F

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcalc.errors import UsageError
from convcalc.teach.backward import conv_backward, pool_backward
from convcalc.teach.handcalc import cross_correlate, flip_kernel, pad

X3 = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
W2 = [[1, 2], [3, 4]]
DY = [[1, -1], [2, 0]]

# random cases per test; CI runs the default (500 convolutions, 300 poolings)
CONV_EXAMPLES = int(os.environ.get("CONVCALC_BACKWARD_EXAMPLES", "500"))
POOL_EXAMPLES = max(1, CONV_EXAMPLES * 3 // 5)


def lists(array):
    return [lists(item) for item in array] if isinstance(array, tuple) else array


# --- the notes' case -----------------------------------------------------------------------------


def test_notes_backward_example_with_ones():
    """Y = X * W (2x2 output) and L = sum(Y): dL/dY is all ones."""
    grads = conv_backward(X3, W2)
    assert lists(grads.grad_weight) == [[1 + 2 + 4 + 5, 2 + 3 + 5 + 6], [4 + 5 + 7 + 8, 5 + 6 + 8 + 9]]
    assert grads.grad_bias == 4
    assert lists(grads.grad_input) == [[1, 1 + 2, 2], [1 + 3, 1 + 2 + 3 + 4, 2 + 4], [3, 3 + 4, 4]]


def test_notes_backward_example_with_an_upstream_gradient():
    grads = conv_backward(X3, W2, DY)
    assert lists(grads.grad_weight) == [
        [1 * 1 - 1 * 2 + 2 * 4 + 0 * 5, 1 * 2 - 1 * 3 + 2 * 5 + 0 * 6],
        [1 * 4 - 1 * 5 + 2 * 7 + 0 * 8, 1 * 5 - 1 * 6 + 2 * 8 + 0 * 9],
    ]
    assert grads.grad_bias == 1 - 1 + 2 + 0
    assert lists(grads.grad_input) == [
        [1 * 1, 1 * 2 - 1 * 1, -1 * 2],
        [1 * 3 + 2 * 1, 1 * 4 - 1 * 3 + 2 * 2 + 0 * 1, -1 * 4 + 0 * 2],
        [2 * 3, 2 * 4 + 0 * 3, 0 * 4],
    ]
    assert "dL/dX[1,1] = dY[0,0]*w[1,1] + dY[0,1]*w[1,0] + dY[1,0]*w[0,1] + dY[1,1]*w[0,0] = 1*4 + (-1)*3 + 2*2 + 0*1 = 5" in grads.input_steps
    assert grads.weight_steps[0] == "dL/dW[0,0] = dY[0,0]*x[0,0] + dY[0,1]*x[0,1] + dY[1,0]*x[1,0] + dY[1,1]*x[1,1] = 1*1 + (-1)*2 + 2*4 + 0*5 = 7"
    assert grads.bias_steps == ("dL/db = dY[0,0] + dY[0,1] + dY[1,0] + dY[1,1] = 1 + (-1) + 2 + 0 = 2",)


def test_notes_rules_are_the_forward_pass_run_again():
    """The notes' identities, with convcalc's own forward pass: dL/dW = X * dL/dY, and
    dL/dX = pad(dL/dY, k-1) * flip(W)."""
    grads = conv_backward(X3, W2, DY)
    assert grads.grad_weight == cross_correlate(X3, DY)
    assert grads.grad_input == cross_correlate(pad(DY, 1), flip_kernel(W2))
    assert any("flipped kernel" in rule for rule in grads.rules)


def test_true_convolution_gradient_is_flipped_back():
    """With --flip the forward pass uses W flipped; dL/dW of the kernel as given is flipped back."""
    flipped = conv_backward(X3, W2, DY, flip=True)
    plain = conv_backward(X3, flip_kernel(W2), DY)
    assert flipped.grad_weight == flip_kernel(plain.grad_weight)
    assert flipped.grad_input == plain.grad_input


def test_zero_padding_keeps_no_gradient_replicate_collects_it():
    """One 1x1 kernel of 1 over [[5]] padded by 1: a 3x3 output, all ones upstream. With zeros
    only the centre reads x; with replicate all nine outputs read it."""
    assert conv_backward([[5]], [[1]], padding=1).grad_input == ((1,),)
    assert conv_backward([[5]], [[1]], padding=1, padding_mode="replicate").grad_input == ((9,),)


def test_stride_and_dilation_per_axis():
    """Stride (2, 1) and dilation (1, 2) on a 4x5 input, 2x2 kernel: out = (2, 3)."""
    x = [[r * 5 + c for c in range(5)] for r in range(4)]
    grads = conv_backward(x, [[1, 0], [0, 1]], stride=(2, 1), dilation=(1, 2))
    assert len(grads.grad_output) == 2 and len(grads.grad_output[0]) == 3
    # dW[0,1] sums x[2i][j + 2] over i in 0..1, j in 0..2
    assert grads.grad_weight[0][1] == sum(x[2 * i][j + 2] for i in range(2) for j in range(3))
    assert any("spread (2, 1) apart" in rule for rule in grads.rules)


def test_groups_and_filters():
    """Two groups: filter 0 sees channel 0, filter 1 sees channel 1; gradients stay in their group."""
    x = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
    w = [[[[1]]], [[[10]]]]
    grads = conv_backward(x, w, groups=2)
    assert lists(grads.grad_weight) == [[[[1 + 2 + 3 + 4]]], [[[5 + 6 + 7 + 8]]]]
    assert grads.grad_bias == (4, 4)
    assert lists(grads.grad_input) == [[[1, 1], [1, 1]], [[10, 10], [10, 10]]]


def test_max_pool_ties_go_to_the_first_cell():
    grads = pool_backward([[1, 3, 3], [3, 2, 1], [0, 3, 3]], 2, stride=1)
    assert lists(grads.grad_input) == [[0, 2, 0], [1, 0, 0], [0, 1, 0]]
    assert grads.ties[0] == (
        "pooled[0,0]: max 3 at (0,1), (1,0); the gradient goes to (0,1), the first in row-major order, as PyTorch picks"
    )


def test_avg_pool_spreads_evenly_and_padding_takes_its_share():
    grads = pool_backward([[4, 8], [12, 16]], 2, stride=1, padding=1, mode="avg")
    assert lists(grads.grad_input) == [[F(4, 4)] * 2] * 2  # each cell is in 4 windows of 4 cells
    grads = pool_backward([[4, 8], [12, 16]], 2, grad=[[2]], mode="avg")
    assert lists(grads.grad_input) == [[F(2, 4)] * 2] * 2
    assert grads.input_steps[0] == "dL/dX[0,0] = dY[0,0]/4 = 2/4 = 0.5"


def test_bad_upstream_gradient_shape():
    with pytest.raises(UsageError) as info:
        conv_backward(X3, W2, [[1, 2, 3]])
    assert info.value.code == "apply-bad-grad"
    assert info.value.message == "the upstream gradient --grad is 1x3; it must be shaped like the output, 2x2"


# --- PyTorch autograd ------------------------------------------------------------------------------

small = st.integers(-4, 4)
RANDOM = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 2))
    group_in, group_out = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    height, width = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    mode = draw(st.sampled_from(["zeros", "replicate", "reflect"]))
    limit_h, limit_w = (height - 1, width - 1) if mode == "reflect" else (2, 2)
    padding = (draw(st.integers(0, limit_h)), draw(st.integers(0, limit_h)), draw(st.integers(0, limit_w)), draw(st.integers(0, limit_w)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    c_in, c_out = groups * group_in, groups * group_out
    x = [[[draw(small) for _ in range(width)] for _ in range(height)] for _ in range(c_in)]
    w = [[[[draw(small) for _ in range(kw)] for _ in range(kh)] for _ in range(group_in)] for _ in range(c_out)]
    return x, w, stride, padding, mode, dilation, groups, draw(st.booleans()), draw(st.randoms(use_true_random=False))


def _torch_grads(torch, x, w, dy, stride, padding, mode, dilation, groups, flip):
    functional = torch.nn.functional
    tx = torch.tensor([x], dtype=torch.float64, requires_grad=True)
    tw = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    tb = torch.zeros(len(w), dtype=torch.float64, requires_grad=True)
    top, bottom, left, right = padding
    padded = functional.pad(tx, (left, right, top, bottom), mode="constant" if mode == "zeros" else mode)
    y = functional.conv2d(padded, tw.flip(-1, -2) if flip else tw, tb, stride=stride, dilation=dilation, groups=groups)
    y.backward(torch.tensor([dy], dtype=torch.float64))
    return tx.grad[0], tw.grad, tb.grad


@pytest.mark.slow
@settings(max_examples=CONV_EXAMPLES, **RANDOM)
@given(conv_cases())
def test_conv_backward_matches_autograd(case):
    torch = pytest.importorskip("torch")
    x, w, stride, padding, mode, dilation, groups, flip, rng = case
    try:
        out = cross_correlate(x, w, stride, padding, mode, dilation, groups=groups)
    except UsageError as raised:
        assert raised.code == "apply-kernel-too-large"
        return
    dy = [[[rng.randint(-3, 3) for _ in row] for row in channel] for channel in out]
    grads = conv_backward(x, w, dy, stride=stride, padding=padding, padding_mode=mode, dilation=dilation, groups=groups, flip=flip)
    dx, dw, db = _torch_grads(torch, x, w, dy, stride, padding, mode, dilation, groups, flip)
    assert lists(grads.grad_input) == dx.to(torch.int64).tolist()
    assert lists(grads.grad_weight) == dw.to(torch.int64).tolist()
    assert list(grads.grad_bias) == db.to(torch.int64).tolist()
    assert len(grads.input_steps) == len(x) * len(x[0]) * len(x[0][0])
    assert len(grads.weight_steps) == len(w) * len(w[0]) * len(w[0][0]) * len(w[0][0][0])


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    height, width = draw(st.integers(kh, 6)), draw(st.integers(kw, 6))
    channels = draw(st.integers(1, 2))
    x = [[[draw(st.integers(-2, 2)) for _ in range(width)] for _ in range(height)] for _ in range(channels)]
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    return x, (kh, kw), stride, padding, draw(st.sampled_from(["max", "avg"])), draw(st.randoms(use_true_random=False))


@pytest.mark.slow
@settings(max_examples=POOL_EXAMPLES, **RANDOM)
@given(pool_cases())
def test_pool_backward_matches_autograd(case):
    """Small values make ties common: PyTorch's choice among them is the one convcalc names."""
    torch = pytest.importorskip("torch")
    x, window, stride, padding, mode, rng = case
    from convcalc.teach.handcalc import pool

    out = pool(x, window, stride, padding, mode)
    dy = [[[rng.randint(-3, 3) for _ in row] for row in channel] for channel in out]
    grads = pool_backward(x, window, dy, stride, padding, mode)
    tx = torch.tensor([x], dtype=torch.float64, requires_grad=True)
    pooling = torch.nn.functional.max_pool2d if mode == "max" else torch.nn.functional.avg_pool2d
    pooling(tx, window, stride=stride, padding=padding).backward(torch.tensor([dy], dtype=torch.float64))
    cells = window[0] * window[1]  # every gradient is a multiple of 1 / window: round the float to it
    theirs = [[[F(round(v * cells), cells) for v in row] for row in channel] for channel in tx.grad[0].tolist()]
    assert lists(grads.grad_input) == theirs
