"""torchvision's mobilenet_v3_small, shufflenet_v2_x1_0 and regnet_y_400mf as built-ins, exact and
with torchvision's names, and the names of the built-in mobilenet_v2.
"""

from __future__ import annotations

import textwrap

import pytest

from convcalc import analyze, load_spec
from convcalc.interop.torch_export import export_torch


def test_copies_named_by_their_index_are_modules_side_by_side_in_the_export():
    """torchvision's AnyStage holds block2-0, block2-1 ... directly (DenseNet's _DenseBlock holds
    denselayer1 ...): the export puts the copies in the parent, not in a Sequential of their own,
    so that every module name is the row's path and the state_dict keys are torchvision's."""
    report = analyze(load_spec(textwrap.dedent("""
        name: stages
        input: [8, 4, 4]
        blocks:
          unit:
            params: {stride: 1}
            layers:
              - conv2d: {out_channels: 8, kernel_size: 3, padding: 1, stride: $stride}
                name: conv
          stage:
            params: {n: ~, stage: ~}
            layers:
              - unit: {stride: "${2 if i == 0 else 1}"}
                repeat: $n
                name: "block${stage}-${i}"
        layers:
          - stage: {n: 2, stage: 1}
            name: block1
          - unit: {}
            repeat: 2
            name: "head${i + 1}"
    """), "stages.yaml"))
    export = export_torch(report)
    assert [r.path for r in report.rows] == ["block1.block1-0.conv", "block1.block1-1.conv", "head1.conv", "head2.conv"]
    assert list(export.modules) == [r.path for r in report.rows]
    assert '("block1-0", Unit(in_channels, stride=2)),' in export.source and '("head1", Unit(8)), ("head2", Unit(8))' in export.source


def test_channel_shuffle_as_a_function_equals_torchvisions_view_transpose_view():
    torch = pytest.importorskip("torch")
    from convcalc.interop.torch_check import build

    spec = "name: s\ninput: [6, 2, 2]\nlayers:\n  - channel_shuffle: {groups: 3}\n    functional: true\n"
    export = export_torch(analyze(load_spec(spec, "s.yaml")))
    x = torch.arange(24.0).reshape(1, 6, 2, 2)
    torchvision = x.view(1, 3, 2, 2, 2).transpose(1, 2).contiguous().view(1, -1, 2, 2)  # shufflenetv2.channel_shuffle
    assert torch.equal(build(export.source, export.class_name, device="cpu")(x), torchvision)


def test_a_symbolic_report_substituted_keeps_every_output_of_a_chunk():
    """A chunk's second output is counted in the activations; substituted, it is a number too."""
    spec = load_spec("name: c\ninput: [8, 32, 32]\nlayers:\n  - chunk: {chunks: 2}\n    id: [a, b]\n  - conv2d: {out_channels: 4, kernel_size: 1}\n    input: b\n", "c.yaml")
    symbolic = analyze(spec, input_shape=(8, "H", "W")).subs({"H": 32, "W": 32})
    assert symbolic.rows[0].output_shapes == ((4, 32, 32), (4, 32, 32))
    assert symbolic.totals == analyze(spec).totals
    assert symbolic.totals.activations == 2 * 4 * 32 * 32 + 4 * 32 * 32
