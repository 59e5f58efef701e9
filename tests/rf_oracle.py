"""PyTorch as the oracle of receptive fields.

A test network is a list of items: ``{"kind": ..., **args}`` for a layer (convolution, transposed
convolution, pooling, upsampling, zero padding, centre crop) or ``{"parallel": {"merge": "add" |
"concat", "crop": "none" | "center", "branches": [[...], [...]]}}``. ``spec_text`` writes it as a
convcalc spec; ``torch_fields`` runs it in PyTorch and returns, for every output position, the
first and last input index per axis that the output depends on.

Every operation is linear with non-negative weights (convolutions with all-ones kernels, pooling
as averaging), so a forward pass of the one-hot inputs, as a batch, gives the whole dependency
pattern at once: output o depends on input i exactly when that entry is non-zero (a bilinear tap
whose weight is exactly 0 is not a dependency, in PyTorch and in convcalc). Max pooling routes its
gradient to one element; its field is its window, so it runs as averaging here (or, dilated, as a
depthwise all-ones convolution, which is the same windows).

Padding counts as input in convcalc's fields, never in PyTorch's; so a second pass, on a zero input
with every padding (and every missing input a transposed convolution or a ceil_mode window
reaches) filled with ones, marks the outputs whose field touches padding: those are not compared.
"""

from __future__ import annotations

import yaml

import torch
import torch.nn.functional as F

torch.set_num_threads(1)  # tensors of a few dozen elements: threads only add overhead (10x on 2 busy cores)


def spec_text(items: list, input_shape: tuple) -> str:
    return yaml.safe_dump({"name": "rf", "input": list(input_shape), "layers": [_spec_item(i) for i in items]}, sort_keys=False)


def _spec_item(item: dict) -> dict:
    if "parallel" in item:
        p = item["parallel"]
        return {"parallel": {"merge": p["merge"], "crop": p.get("crop", "none"), "branches": [[_spec_item(i) for i in b] for b in p["branches"]]}}
    args = {k: v for k, v in item.items() if k != "kind"}
    if item["kind"].startswith(("conv", "conv_transpose")):
        args = {"out_channels": 1, **args}
    return {item["kind"]: args}


def _per_axis(value, rank: int) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value] * rank


def _pairs(padding, rank: int) -> list[tuple[int, int]]:
    return [(p, p) if isinstance(p, int) else tuple(p) for p in _per_axis(padding, rank)]


def _torch_pads(pairs: list[tuple[int, int]]) -> list[int]:
    """F.pad's order: the last axis first."""
    return [v for pair in reversed(pairs) for v in pair]


def _ones_window(x, kernel, stride, dilation, pairs, fill, groups_all=True):
    """A depthwise all-ones window over x padded by ``pairs`` with ``fill``."""
    rank = x.dim() - 2
    x = F.pad(x, _torch_pads(pairs), value=fill)
    c = x.shape[1]
    weight = torch.ones(c if groups_all else 1, 1 if groups_all else c, *kernel, dtype=x.dtype)
    conv = (F.conv1d, F.conv2d, F.conv3d)[rank - 1]
    return conv(x, weight, stride=stride, dilation=dilation, groups=c if groups_all else 1)


def _layer(item: dict, x, sense: bool):
    kind = item["kind"]
    rank = x.dim() - 2
    fill = 1.0 if sense else 0.0
    if kind.startswith("conv_transpose"):
        k, s, d = (_per_axis(item.get(a, 1), rank) for a in ("kernel_size", "stride", "dilation"))
        p, op = _per_axis(item.get("padding", 0), rank), _per_axis(item.get("output_padding", 0), rank)
        weight = torch.ones(x.shape[1], 1, *k, dtype=x.dtype)
        deconv = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[rank - 1]
        if not sense:
            return deconv(x, weight, stride=s, padding=p, output_padding=op, dilation=d)
        # inputs the transposed conv would read before the first and after the last: ones
        margin = [-(-di * (ki - 1) // si) + 1 for ki, si, di in zip(k, s, d)]
        wide = deconv(F.pad(x, _torch_pads([(m, m) for m in margin]), value=1.0), weight, stride=s, padding=p, output_padding=op, dilation=d)
        out = deconv(torch.zeros_like(x), weight, stride=s, padding=p, output_padding=op, dilation=d).shape[2:]
        index = tuple(slice(m * si, m * si + o) for m, si, o in zip(margin, s, out))
        return wide[(slice(None), slice(None), *index)]
    if kind.startswith("conv"):
        k, s, d = (_per_axis(item.get(a, 1), rank) for a in ("kernel_size", "stride", "dilation"))
        return _ones_window(x, k, s, d, _pairs(item.get("padding", 0), rank), fill, groups_all=False)
    if kind.startswith(("max_pool", "avg_pool")):
        k = _per_axis(item["kernel_size"], rank)
        s = _per_axis(item.get("stride") or item["kernel_size"], rank)
        p = _per_axis(item.get("padding", 0), rank)
        d = _per_axis(item.get("dilation", 1), rank)
        ceil = item.get("ceil_mode", False)
        pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[rank - 1]
        out = pool(torch.zeros_like(x), k, s, p, d, ceil_mode=ceil).shape[2:]  # PyTorch's own output size
        if not sense and all(di == 1 for di in d):
            avg = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[rank - 1]
            return avg(x, k, s, p, ceil_mode=ceil, count_include_pad=True)
        # windows past the right padding (ceil_mode) read nothing in PyTorch: padding here
        extra = [max((o - 1) * si + di * (ki - 1) + 1 - (n + 2 * pi), 0) for o, si, di, ki, n, pi in zip(out, s, d, k, x.shape[2:], p)]
        y = _ones_window(x, k, s, d, [(pi, pi + e) for pi, e in zip(p, extra)], fill)
        assert tuple(y.shape[2:]) == tuple(out)
        return y
    if kind == "upsample":
        args = {key: item[key] for key in ("size", "scale_factor", "mode", "align_corners") if key in item}
        return F.interpolate(x, **args)
    if kind == "zero_pad":
        return F.pad(x, _torch_pads(_pairs(item["padding"], rank)), value=fill)
    if kind == "center_crop":
        return _crop(x, _per_axis(item["size"], rank))
    raise ValueError(kind)


def _crop(x, target):
    index = tuple(slice((n - t) // 2, (n - t) // 2 + t) for n, t in zip(x.shape[2:], target))
    return x[(slice(None), slice(None), *index)]


def run(items: list, x, sense: bool):
    for item in items:
        if "parallel" in item:
            p = item["parallel"]
            outs = [run(branch, x, sense) for branch in p["branches"]]
            if p.get("crop") == "center":
                target = [min(o.shape[2 + a] for o in outs) for a in range(x.dim() - 2)]
                outs = [_crop(o, target) for o in outs]
            x = sum(outs[1:], outs[0]) if p["merge"] == "add" else torch.cat(outs, dim=1)
        else:
            x = _layer(item, x, sense)
    return x


def torch_fields(items: list, spatial: tuple) -> tuple[tuple, dict]:
    """(output spatial shape, {output position: (per axis (lo, hi), or None if it reads nothing;
    or "padding" when its field touches padding)})."""
    count = 1
    for n in spatial:
        count *= n
    with torch.no_grad():
        basis = torch.eye(count).reshape(count, 1, *spatial)
        y = run(items, basis, sense=False).sum(dim=1)  # (inputs, *output)
        touched = run(items, torch.zeros(1, 1, *spatial), sense=True).sum(dim=1)[0] != 0
    out_shape = tuple(y.shape[1:])
    fields = {}
    depends = (y != 0).reshape(*spatial, *out_shape)
    for position in _positions(out_shape):
        if touched[position]:
            fields[position] = "padding"
            continue
        mask = depends[(..., *position)]
        if not mask.any():
            fields[position] = None
            continue
        axes = []
        for axis in range(len(spatial)):
            others = tuple(a for a in range(len(spatial)) if a != axis)
            along = mask.any(dim=others) if others else mask
            idx = along.nonzero().flatten()
            axes.append((int(idx.min()), int(idx.max())))
        fields[position] = tuple(axes)
    return out_shape, fields


def _positions(shape: tuple):
    if not shape:
        yield ()
        return
    for i in range(shape[0]):
        for rest in _positions(shape[1:]):
            yield (i, *rest)
