"""torchvision's alexnet, vgg16_bn, squeezenet1_0 and densenet121 as built-ins, to the unit."""

from __future__ import annotations

import pytest


def test_copies_named_by_their_index_export_side_by_side():
    """``name: "denselayer${i + 1}"`` puts the copies next to each other in the parent module, as their
    row paths say; a block used with three more copies is a numbered class, not StackConv3Conv4Conv5."""
    pytest.importorskip("torch")
    from convcalc.interop.torch_check import build
    from convcalc.interop.torch_export import export_torch
    from helpers import analyze_text

    r = analyze_text("""
        name: dense
        input: [4, 8, 8]
        blocks:
          stack:
            params: {n: ~}
            layers:
              - conv2d: {out_channels: 4, kernel_size: 1, bias: false}
                repeat: $n
                name: "conv${i + 1}"
        layers:
          - stack: {n: 2}
            name: block1
          - stack: {n: 5}
            name: block2
    """)
    export = export_torch(r)
    assert list(build(export.source, export.class_name).state_dict()) == [f"{r.path}.weight" for r in r.rows] == [
        "block1.conv1.weight", "block1.conv2.weight", *(f"block2.conv{n}.weight" for n in range(1, 6)),
    ]
    assert "class Stack(nn.Sequential):" in export.source and "class Stack2(nn.Sequential):" in export.source
