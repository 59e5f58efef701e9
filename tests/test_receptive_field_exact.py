"""Exact receptive fields: goldens, and PyTorch's own dependencies as the oracle.

The property tests draw random networks (``strategies.rf_nets``): chains and two-branch merges of
convolutions with stride, dilation and uneven padding, transposed convolutions, max / average
pooling with ceil_mode, nearest and (bi)linear upsampling by a scale or to a size, zero padding
(negative: cropping) and centre crops. For every output position whose field does not touch
padding, convcalc's interval must be exactly the first and last input PyTorch's output depends on
(``tests/rf_oracle.py``). More examples: ``CONVCALC_RF_EXAMPLES=5000 pytest tests/test_receptive_field_exact.py``.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, event, given, settings

import convcalc
from convcalc.errors import SpecError

from strategies import rf_nets

torch = pytest.importorskip("torch")
from rf_oracle import spec_text, torch_fields  # noqa: E402 - needs torch

EXAMPLES = int(os.environ.get("CONVCALC_RF_EXAMPLES", "500"))
RANDOM = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def compare(items: list, spatial: tuple) -> int:
    """Assert convcalc's field of every comparable output position; return how many there were."""
    text = spec_text(items, (1, *spatial))
    try:
        report = convcalc.analyze(convcalc.load_spec(text, "rf.yaml"))
    except SpecError as exc:
        pytest.fail(f"convcalc refused a network PyTorch runs: {exc.render()}\n{text}")
    last = report.rows[-1]
    shape, fields = torch_fields(items, spatial)
    if any(not axis.known for axis in last.rf):  # said out loud (a limit): nothing to compare
        event("field not known: " + next(axis.unknown for axis in last.rf if not axis.known).split(",")[0])
        return 0
    assert tuple(last.output_shape[1:]) == shape, text
    compared = 0
    for position, theirs in fields.items():
        if theirs == "padding":
            continue
        ours = [axis.interval(o) for axis, o in zip(last.rf, position)]
        expected = [None] * len(position) if theirs is None else list(theirs)
        if theirs is None:
            assert None in ours, f"output {position}: convcalc {ours}, PyTorch reads nothing\n{text}"
        else:
            assert ours == expected, f"output {position}: convcalc {ours}, PyTorch {expected}\n{text}"
        compared += 1
    event(f"positions compared: {'none' if not compared else 'some' if compared < len(fields) else 'all'}")
    return compared


@pytest.mark.slow
@RANDOM
@given(rf_nets(rank=1))
def test_chains_match_pytorch(net):
    compare(*net)


@pytest.mark.slow
@RANDOM
@given(rf_nets(rank=1, branched=True))
def test_branched_nets_match_pytorch(net):
    compare(*net)


@pytest.mark.slow
@settings(RANDOM, max_examples=max(EXAMPLES * 2 // 5, 10))
@given(rf_nets(rank=2, branched=True))
def test_two_dimensional_nets_match_pytorch(net):
    compare(*net)


def _unet_1d(x):
    """U-Net (specs/unet.yaml) along one axis, one channel, all-ones weights: the axes of a 2-d
    U-Net are independent, so its fields along H are these. Max pooling runs as averaging (the
    same windows)."""
    F = torch.nn.functional

    def conv(t, k=3):
        return F.conv1d(t, torch.ones(1, t.shape[1], k, dtype=t.dtype))

    def double(t):
        return conv(conv(t))

    def crop(t, size):
        start = (t.shape[-1] - size) // 2
        return t[..., start:start + size]

    skips = []
    x = double(x)
    for _ in range(4):
        skips.append(x)
        x = double(F.avg_pool1d(x, 2, 2))
    for skip in reversed(skips):
        x = F.conv_transpose1d(x, torch.ones(1, 1, 2, dtype=x.dtype), stride=2)
        x = double(torch.cat([crop(skip, x.shape[-1]), x], dim=1))
    return conv(x, 1)


def test_unet_output_fields_are_pytorchs():
    """Every one of U-Net's 388 output rows reads exactly the input rows PyTorch's does (no padding
    anywhere in U-Net, so all of them compare)."""
    report = convcalc.analyze(convcalc.load_model("unet"))
    axis = report.rows[-1].rf[0]
    with torch.no_grad():
        y = _unet_1d(torch.eye(572, dtype=torch.float64).reshape(572, 1, 572)).sum(dim=1)
    assert y.shape == (572, 388)
    for o in range(388):
        rows = (y[:, o] != 0).nonzero().flatten()
        assert axis.interval(o) == (int(rows.min()), int(rows.max())), o


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
@pytest.mark.parametrize("align_corners", [None, True])
def test_interpolation_matches_pytorch_at_every_output(mode, align_corners):
    """One upsampling layer, every output row, sizes 1 to 8 up and down: where the source
    coordinate is within float32 rounding of a whole pixel, PyTorch's own arithmetic decides
    (bicubic weights of exactly 0 included). Its negative weights keep bicubic out of the
    random networks, whose dependencies are sums of positive weights."""
    F = torch.nn.functional
    for n in range(1, 9):
        for target in [{"size": [out, 2]} for out in range(1, 20)] + [{"scale_factor": [f, 1]} for f in (0.5, 1.5, 2.5, 3, 0.3, 2.05)]:
            args = {"mode": mode, **target, **({} if align_corners is None else {"align_corners": align_corners})}
            if "scale_factor" in args and int(n * args["scale_factor"][0]) < 1:
                continue  # an empty output: refused by both
            report = convcalc.analyze(convcalc.load_spec(spec_text([{"kind": "upsample", **args}], (1, n, 2)), "rf.yaml"))
            axis = report.rows[0].rf[0]
            y = F.interpolate(torch.eye(2 * n).reshape(2 * n, 1, n, 2), **args).sum(dim=1)
            depends = (y != 0).reshape(n, 2, *y.shape[1:])
            for o in range(y.shape[1]):
                rows = depends[:, :, o, :].any(dim=2).any(dim=1).nonzero().flatten()
                assert axis.interval(o) == (int(rows.min()), int(rows.max())), (n, args, o)


def test_a_window_makes_the_named_tuples_their_constructors_make():
    """``RFAxis.through`` builds its axis with ``tuple.__new__``: the same types and values as
    ``RFAxis(...)`` and ``_Comp(...)`` (a 3-tap window, stride 2, padding 1, after a stride-2 one)."""
    from convcalc.kinds._rf import RFAxis, _Comp

    axis = RFAxis().through(3, 2, 1, 1, 16).through(3, 2, 1, 1, 8)
    assert type(axis) is RFAxis and type(axis.comps[0]) is _Comp
    # lo = -1 - 1*2, hi = 1 + (3 - 1 - 1)*2; step and jump 2*2
    assert axis == RFAxis((_Comp(1, 4, ((-1 - 1 * 2, 1 + (3 - 1 - 1) * 2),)),), (), 8, 4) and axis.unknown == ""
