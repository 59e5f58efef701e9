"""The one input convention, and how to tell when a shape was written in the other one.

Every shape convcalc reads is channels first, as PyTorch writes it: ``(C, L)``, ``(C, H, W)``,
``(C, D, H, W)``, without the batch (a spec's ``input:``, ``--input`` of every command, the input
of inline layers; ``apply`` takes channels-first stacks of matrices). ``--layout hwc`` reads and
prints the textbooks' order instead, channels last: ``HxWxC``.

A shape written in the other order is no error (224 x 224 x 3 read channels first is a valid
tensor of 224 channels of 224 x 3 pixels), so it gets a warning when it looks like the other
layout: three or more axes whose last (read channels first) or first (read channels last) is a
channel count of 1 to 4 (grayscale, RGB, RGBA), beside two spatial sizes that are equal and larger
than it, or both at least ``LARGE``. A network input with 1 to 4 pixels along its last axis and
many channels is rare enough that the guess seldom misfires; symbolic sizes are never guessed at.
"""

from __future__ import annotations

from typing import Any, Sequence

from convcalc.kinds._window import axis_names

__all__ = ["LARGE", "looks_other_layout", "read_as", "swap_layout"]

_CHANNELS = range(1, 5)
LARGE = 32


def _looks_like_channels(channels: Any, spatial: Sequence[Any]) -> bool:
    if not all(type(d) is int for d in (channels, *spatial)) or channels not in _CHANNELS:
        return False
    a, b = spatial
    return (a == b and a > channels) or min(a, b) >= LARGE


def looks_other_layout(dims: Sequence[Any], layout: str = "chw") -> bool:
    """Whether ``dims``, written in ``layout`` (chw or hwc), look written in the other layout."""
    if len(dims) < 3:
        return False
    if layout == "hwc":
        return _looks_like_channels(dims[0], dims[1:3])
    return _looks_like_channels(dims[-1], dims[-3:-1])


def swap_layout(dims: Sequence[Any], layout: str = "chw") -> list[Any]:
    """What ``dims``, written in ``layout``, become written in the other layout."""
    dims = list(dims)
    return dims[1:] + dims[:1] if layout == "hwc" else dims[-1:] + dims[:-1]


def read_as(dims: Sequence[Any], layout: str = "chw") -> str:
    """How ``dims`` (written in ``layout``) are read, then what they look like:
    ``read channels first as C=224, H=224, W=3, but looks like H x W x C``."""
    names = ["C", *axis_names(len(dims) - 1)]
    if layout == "hwc":
        names = names[1:] + names[:1]
    reading = ", ".join(f"{name}={size}" for name, size in zip(names, dims))
    other = " x ".join(names[1:] + names[:1] if layout == "chw" else names[-1:] + names[:-1])
    order = "channels last" if layout == "hwc" else "channels first"
    return f"read {order} as {reading}, but looks like {other}"
