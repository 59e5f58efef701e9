"""The spec language that writing torchvision's models needs: copies named by their index, kinds
named by a parameter, tensors handed to blocks, float expressions, PyTorch's own argument names,
layers called as functions, several outputs, and every fault of a file reported at once."""

from __future__ import annotations

import textwrap

import pytest

from convcalc import analyze, load_spec
from convcalc.errors import SpecError, SpecErrors
from convcalc.interop.compat import calls_for, compat_total
from convcalc.interop.torch_export import export_torch
from convcalc.spec._expr import evaluate, make_divisible


def report_of(text: str):
    return analyze(load_spec(textwrap.dedent(text), "spec.yaml"))


def error_of(text: str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        report_of(text)
    return caught.value


def test_repeat_index_and_copies_named_by_it():
    """DenseNet's denselayer1.. : each copy sees `i` and takes its own name."""
    report = report_of("""
        name: dense
        input: [8, 4, 4]
        blocks:
          dense_layer:
            params: {growth: 2}
            layers:
              - conv2d: {out_channels: $growth, kernel_size: 1}
                name: conv
              - concat: {inputs: [block_input, previous]}
                name: cat
          dense_block:
            params: {n: ~}
            layers:
              - dense_layer: {growth: "${2 + i}"}
                repeat: $n
                name: "denselayer${i + 1}"
        layers:
          - dense_block: {n: 3}
            name: block1
    """)
    assert [r.path for r in report.rows if r.kind == "conv2d"] == ["block1.denselayer1.conv", "block1.denselayer2.conv", "block1.denselayer3.conv"]
    assert [r.output_shape[0] for r in report.rows if r.kind == "conv2d"] == [2, 3, 4]  # growth 2 + i
    assert report.output_shape == (8 + 2 + 3 + 4, 4, 4)


def test_repeat_zero_and_when_dropped_items_take_no_number():
    report = report_of("""
        name: r
        input: [3, 8, 8]
        blocks:
          b:
            params: {expand: false}
            layers:
              - conv2d: {out_channels: 6, kernel_size: 1}
                when: $expand
              - relu
              - conv2d: {out_channels: 4, kernel_size: 1}
        layers:
          - b: {}
            name: stage
          - relu:
            repeat: 0
    """)
    assert [r.path for r in report.rows] == ["stage.0", "stage.1"]  # the dropped conv takes no index, as in nn.Sequential


def test_a_kind_named_by_a_parameter():
    """MobileNetV3: ReLU or Hardswish per block, one block definition."""
    report = report_of("""
        name: act
        input: [3, 8, 8]
        blocks:
          b:
            params: {act: relu}
            layers: [{conv2d: {out_channels: 4, kernel_size: 1}}, $act]
        layers:
          - b: {}
          - b: {act: hardswish}
    """)
    assert [r.kind for r in report.rows] == ["conv2d", "relu", "conv2d", "hardswish"]


def test_a_tensor_handed_to_a_block_and_one_out_of_its_reach():
    text = """
        name: skip
        input: [4, 8, 8]
        blocks:
          up:
            params: {skip: ~}
            layers:
              - concat: {inputs: [$skip, previous]}
        layers:
          - relu:
            id: enc
          - conv2d: {out_channels: 4, kernel_size: 1}
          - up: {skip: enc}
    """
    assert report_of(text).output_shape == (8, 8, 8)
    error = error_of(text.replace("{inputs: [$skip, previous]}", "{inputs: [enc, previous]}").replace("params: {skip: ~}", "params: {}").replace("up: {skip: enc}", "up: {}"))
    assert error.code == "graph-out-of-scope" and "outside block 'up'" in error.message and "input: $skip" in error.hint


def test_float_expressions_and_make_divisible_equal_torchvision():
    def torchvision_make_divisible(v, divisor, min_value=None):  # torchvision.models._utils._make_divisible
        if min_value is None:
            min_value = divisor
        new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
        if new_v < 0.9 * v:
            new_v += divisor
        return new_v

    for v, d in [(16 * 0.25, 8), (96 * 1.1, 8), (40 * 1.4, 8), (3.0, 8), (24 * 0.75, 8), (1280 * 1.2, 8)]:
        assert make_divisible(v, d) == torchvision_make_divisible(v, d)
        assert evaluate(f"make_divisible({v}, {d})", {}) == torchvision_make_divisible(v, d)
    assert evaluate("int(round(0.25 * w))", {"w": 208}) == 52  # RegNet's squeeze width
    assert evaluate("w / 2", {"w": 48}) == 24 and isinstance(evaluate("w / 2", {"w": 48}), int)
    assert (evaluate("ceil(7 / 2)", {}), evaluate("floor(7 / 2)", {}), evaluate("max(1, 2, 3)", {})) == (4, 3, 3)
    error = error_of("""
        name: f
        input: [3, 8, 8]
        blocks:
          b:
            params: {w: 10}
            layers: [{conv2d: {out_channels: "${w * 0.5 + 0.25}", kernel_size: 1}}]
        layers: [b]
    """)
    assert error.code == "spec-type" and "5.25" in error.message  # a float where an int goes: refused, located
    refused = error_of("name: f\ninput: [3, 8, 8]\nblocks:\n  b:\n    params: {w: 1}\n    layers: [{conv2d: {out_channels: '${w.real}', kernel_size: 1}}]\nlayers: [b]\n")
    assert "allowed: numbers" in refused.message and "make_divisible" in refused.message


def test_pytorch_argument_names_are_checked_against_the_input():
    report = report_of("""
        name: t
        input: [3, 32, 32]
        layers:
          - conv2d: {in_channels: 3, out_channels: 64, kernel_size: 3, bias: false}
          - batch_norm2d: {num_features: 64}
          - relu: {inplace: true}
          - flatten
          - linear: {in_features: 57600, out_features: 10}
    """)
    assert report.rows[0].params == 64 * 3 * 9 == 1728
    error = error_of("name: t\ninput: [3, 32, 32]\nlayers:\n  - conv2d: {in_channels: 4, out_channels: 64, kernel_size: 3, bias: false}\n")
    assert (error.code, error.pos.line, error.pos.col) == ("shape-input-width", 4, 27)
    assert "in_channels: 4" in error.message and "3 channels" in error.message
    assert error_of("name: t\ninput: [3, 32, 32]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 3, inplace: true}\n").code == "spec-unknown-arg"


def test_a_layer_called_as_a_function():
    report = report_of("""
        name: f
        input: [3, 8, 8]
        layers:
          - conv2d: {out_channels: 4, kernel_size: 3}
          - relu:
            functional: true
          - adaptive_avg_pool2d: {output_size: 1}
            functional: true
    """)
    assert [r.functional for r in report.rows] == [False, True, True]
    assert calls_for(report) == {0: "module", 1: "function", 2: "function"}
    source = export_torch(report).source
    assert "x = F.relu(x)" in source and "x = F.adaptive_avg_pool2d(x, 1)" in source
    # ptflops does not hook functions: it counts them with its patched F.relu / F.adaptive_avg_pool2d
    assert compat_total(report, "ptflops").breakdown["activations called as functions: 1 per element"] == 4 * 6 * 6
    assert error_of("name: f\ninput: [3, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 3}\n    functional: true\n").code == "spec-functional"


def test_several_outputs_named_and_read():
    report = report_of("""
        name: shuffle
        input: [8, 4, 4]
        layers:
          - chunk: {chunks: 2}
            id: [x1, x2]
          - conv2d: {out_channels: 4, kernel_size: 1}
            input: x2
          - concat: {inputs: [x1, previous]}
          - channel_shuffle: {groups: 2}
    """)
    chunk = report.rows[0]
    assert chunk.output_shapes == ((4, 4, 4), (4, 4, 4)) and chunk.activations == 2 * 64
    assert report.rows[1].inputs == (0,) and report.rows[1].input_ports == (1,)
    assert report.output_shape == (8, 4, 4)
    error = error_of("name: s\ninput: [8, 4, 4]\nlayers:\n  - chunk: {chunks: 2}\n  - relu\n")
    assert error.code == "graph-ambiguous-input" and "id: [a, b" in error.hint


@pytest.mark.parametrize(("layer", "code", "words"), [
    ("split: {split_size_or_sections: [3, 4]}", "shape-split", "add up to 7"),
    ("reshape: {shape: [5, -1]}", "shape-reshape", "do not divide"),
    ("reshape: {shape: [3, 3]}", "shape-reshape", "holds 9 elements, the input has 64"),
    ("flatten: {start_dim: 0}", "arg-batch-dim", "is the batch"),
])
def test_plumbing_errors_are_located(layer, code, words):
    error = error_of(f"name: e\ninput: [4, 4, 4]\nlayers:\n  - {layer}\n")
    assert error.code == code and words in error.message and error.pos.line == 4


def test_attention_heads_must_divide_the_embedding():
    error = error_of("name: e\ninput: [10, 12]\nlayers:\n  - multihead_attention: {embed_dim: 12, num_heads: 5}\n")
    assert error.code == "arg-heads" and "12 is not divisible by num_heads 5" in error.message


def test_unknown_kinds_are_suggested_by_meaning():
    assert error_of("name: e\ninput: [10, 12]\nlayers:\n  - attention\n").hint == "did you mean 'multihead_attention'?"
    assert report_of("name: e\ninput: [3, 4, 4]\nlayers:\n  - swish\n").rows[0].kind == "silu"


def test_three_mistakes_are_three_located_errors():
    with pytest.raises(SpecErrors) as caught:
        report_of("""
            name: three
            input: [3, 32, 32]
            layers:
              - conv2d: {out_channels: 8, kernal_size: 3}
              - conv2d: {out_channels: 8, kernel_size: 3}
                input: block_input
              - conv2: {out_channels: 8}
                input: previous
              - linear: {out_features: 10}
                input: previous
        """)
    errors = caught.value.errors
    assert [(e.code, e.pos.line) for e in errors] == [("spec-unknown-arg", 5), ("graph-unknown-id", 7)]
    text = caught.value.render().splitlines()
    assert len(text) == 2 and all(line.startswith("spec.yaml:") for line in text)


def test_independent_mistakes_are_all_reported():
    with pytest.raises(SpecErrors) as caught:
        report_of("""
            name: three
            input: [3, 32, 32]
            layers:
              - relu:
                id: x
              - conv2d: {out_channels: 8, kernal_size: 3}
              - conv2: {out_channels: 8}
                input: x
              - max_pool2d: {kernel_size: 64}
                input: x
        """)
    assert [e.code for e in caught.value.errors] == ["spec-unknown-arg", "spec-unknown-kind", "shape-kernel-too-large"]


def test_tied_weights_are_counted_once_and_run_per_use():
    """`share:` reuses a layer's weights: params once, MACs per use (torchinfo counts them twice)."""
    text = """
        name: tied
        input: [16]
        layers:
          - linear: {out_features: 16}
            name: enc
          - relu
          - linear: {out_features: 16}
            share: enc
    """
    report = report_of(text)
    assert [(r.params, r.macs) for r in report.rows] == [(16 * 16 + 16, 16 * 16), (0, 0), (0, 16 * 16)]
    assert report.totals.params == 16 * 16 + 16 and report.totals.macs == 2 * 16 * 16
    pytest.importorskip("torch")
    from convcalc.interop.torch_check import mismatches, probe

    export = export_torch(report)
    assert "x = self.enc(x)" in export.source and export.source.count("nn.Linear(") == 1
    assert mismatches(report, probe(export, report)) == []
    error = error_of(text.replace("- linear: {out_features: 16}\n            share: enc", "- linear: {out_features: 8}\n            share: enc"))
    assert error.code == "spec-share" and "272 parameters there, 136 here" in error.message


SWIN_BLOCK = """
    name: Swin-T block
    description: the first block of Swin-T's first stage, on 56x56 tokens of 96 channels, window 7, 3 heads
    input: [3136, 96]
    layers:
      - identity:
        id: tokens
      - layer_norm: {normalized_shape: 96}
        name: norm1
      - reshape: {shape: [8, 7, 8, 7, 96]}          # window partition
      - permute: {dims: [0, 1, 3, 2, 4, 5]}
      - reshape: {shape: [64, 49, 96]}
      - linear: {out_features: 288, axis: last}
        name: qkv
      - reshape: {shape: [64, 49, 3, 3, 32]}
      - permute: {dims: [0, 3, 1, 4, 2, 5]}
        id: qkv_heads
      - select: {dim: 1, index: 0}
        input: qkv_heads
        id: q
      - select: {dim: 1, index: 1}
        input: qkv_heads
      - transpose: {dim0: -2, dim1: -1}
        id: k_t
      - select: {dim: 1, index: 2}
        input: qkv_heads
        id: v
      - matmul: {inputs: [q, k_t]}
        id: scores
      - parameter: {shape: [169, 3]}                # the relative-position bias table
        name: relative_position_bias_table
      - gather: {index_shape: [49, 49]}
      - permute: {dims: [0, 3, 1, 2]}
      - add: {inputs: [scores, previous]}           # (64, 3, 49, 49) + (3, 49, 49), broadcast
      - softmax: {dim: -1}
      - matmul: {inputs: [previous, v]}
      - transpose: {dim0: 2, dim1: 3}
      - reshape: {shape: [64, 49, 96]}
      - linear: {out_features: 96, axis: last}
        name: proj
      - reshape: {shape: [8, 8, 7, 7, 96]}          # window reverse
      - permute: {dims: [0, 1, 3, 2, 4, 5]}
      - reshape: {shape: [3136, 96]}
      - add: {inputs: [tokens, previous]}
        id: x
      - layer_norm: {normalized_shape: 96}
        name: norm2
      - linear: {out_features: 384, axis: last}
      - gelu
      - linear: {out_features: 96, axis: last}
      - add: {inputs: [x, previous]}
"""


def test_swin_window_attention_is_exact():
    """Window partition by reshape and permute, attention by matmul, the relative-position bias as a
    parameter table looked up by index: torchvision's swin_t features.1.0, params and MACs by hand."""
    report = report_of(SWIN_BLOCK)
    params = 2 * 96 + (96 * 288 + 288) + 169 * 3 + (96 * 96 + 96) + 2 * 96 + (96 * 384 + 384) + (384 * 96 + 96)
    macs = 3136 * 96 * 288 + 2 * (64 * 3 * 49 * 32 * 49) + 3136 * 96 * 96 + 2 * (3136 * 96 * 384)
    assert (report.totals.params, report.totals.macs, report.output_shape) == (params, macs, (3136, 96))
    assert params == 112_347 and macs == 376_320_000
    pytest.importorskip("torch")
    from convcalc.interop.torch_check import mismatches, probe

    export = export_torch(report)
    assert mismatches(report, probe(export, report)) == []


def test_the_same_text_read_as_a_key_a_value_quoted_and_tagged():
    """The reader keeps each scalar it has read for the rest of the document, by tag, style and
    text: `3`, `"3"` and `!!str 3` stay three readings, as keys and as values."""
    from convcalc.spec._yaml import load_yaml

    value, source = load_yaml('a: 3\nb: "3"\nc: !!str 3\n3: x\n"3": y\nd: [3, "3", true, "true"]\n', "t.yaml")
    assert value == {"a": 3, "b": "3", "c": "3", 3: "x", "3": "y", "d": [3, "3", True, "true"]}
    assert (source.pos(("d", 1)).line, source.pos(("d", 1)).col) == (6, 8)


def test_an_expression_error_deep_in_the_arguments_names_its_value():
    """Substitution goes over the arguments without their paths; a failing expression is found
    again, with its path, for the error."""
    text = textwrap.dedent("""\
        name: t
        input: [3, 8, 8]
        blocks:
          b:
            params: {w: ~}
            layers:
              - conv2d: {out_channels: $w, kernel_size: [1, "${w // 0}"]}
        layers:
          - b: {w: 4}
        """)
    with pytest.raises(SpecError) as caught:
        analyze(load_spec(text, "t.yaml"))
    assert caught.value.code == "spec-expression"
    assert "division by zero" in caught.value.message
    assert (caught.value.pos.line, caught.value.pos.col) == (7, 53)
