"""The memo of graph/build.py: an item folded again on the same input (a block used with the same
parameters, the copies of a repeat) is copied from its first fold. The graph must be the one a
fold without the memo builds, node for node, group for group, result for result."""

from __future__ import annotations

import dataclasses

import pytest

import convcalc
from convcalc.graph import build
from convcalc.graph.build import build_graph
from convcalc.spec.zoo import builtin_names

REPEATS = """\
name: repeats
input: [8, 32, 32]
blocks:
  basic:
    params: {channels: ~, stride: 1}
    layers:
      - residual:
          body:
            - conv2d: {out_channels: $channels, kernel_size: 3, stride: $stride, padding: 1}
              expect: {params: "${channels * in_channels * 9 + channels}"}
            - relu: {}
              id: inner
            - conv2d: {out_channels: $channels, kernel_size: 1}
              input: inner
          shortcut:
            - conv2d: {out_channels: $channels, kernel_size: 1, stride: $stride}
  plain:
    layers:
      - relu
layers:
  - basic: {channels: 8}
    repeat: 3
  - basic: {channels: 16, stride: 2}
  - basic: {channels: 16}
    repeat: 2
  - seq:
      - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}
      - plain
      - parallel:
          merge: concat
          crop: center
          branches:
            - [{conv2d: {out_channels: 4, kernel_size: 3}}]
            - [{conv2d: {out_channels: 4, kernel_size: 1}}]
    repeat: 3
  - seq:
      - global_avg_pool
      - flatten
    name: head
  - seq:
      - linear: {out_features: 16}
      - relu
    repeat: 3
"""


def fresh(spec, **kwargs):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build._Folder, "memo_key", lambda *args: None)
        return build_graph(spec, **kwargs)


def same_graph(a, b):
    assert a.nodes == b.nodes
    assert a.groups == b.groups
    assert a.names == b.names and a.expectations == b.expectations and a.output == b.output
    assert [(i, str(size), str(message)) for i, size, message in a.conditions] == [(i, str(size), str(message)) for i, size, message in b.conditions]
    fields = [f.name for f in dataclasses.fields(a.results[0]) if f.name != "formulas"]
    assert [[getattr(r, f) for f in fields] for r in a.results] == [[getattr(r, f) for f in fields] for r in b.results]
    ra, rb = convcalc.analyze(a), convcalc.analyze(b)
    assert [r.formulas for r in ra.rows] == [r.formulas for r in rb.rows]


@pytest.mark.parametrize("name", builtin_names())
def test_the_memo_builds_the_graph_a_fresh_fold_builds(name):
    spec = convcalc.load_model(name)
    same_graph(build_graph(spec), fresh(spec))


@pytest.mark.parametrize("shape", [None, (8, "H", "W")])
def test_repeats_blocks_ids_crops_and_expectations_are_copied_exactly(shape):
    spec = convcalc.load_spec(REPEATS)
    graph = build_graph(spec, input_shape=shape)
    same_graph(graph, fresh(spec, input_shape=shape))
    assert graph.nodes[-1].path == "5.2.1" and graph.groups[-1].path == "5"


def test_a_memo_shared_by_builds_of_one_spec_changes_nothing():
    spec = convcalc.load_model("efficientnet")
    memo: dict = {}
    for width, depth in ((1.0, 1.0), (1.1, 1.2), (1.0, 1.0), (1.0, 1.2)):
        point = spec.with_params({"width_mult": width, "depth_mult": depth})
        same_graph(build_graph(point, memo=memo), fresh(point))
    assert memo


def test_a_fault_after_copies_is_reported_as_without_the_memo():
    text = REPEATS.replace("  - basic: {channels: 16}\n    repeat: 2\n", "  - basic: {channels: 16}\n    repeat: 2\n  - max_pool2d: {kernel_size: 9}\n  - basic: {channels: 16}\n")
    spec = convcalc.load_spec(text)
    with pytest.raises(convcalc.SpecError) as memo:
        build_graph(spec)
    with pytest.raises(convcalc.SpecError) as alone:
        fresh(spec)
    assert memo.value.render() == alone.value.render() and memo.value.pos.line > 1


# -- a copy's receptive field without inferring again (LayerKind.refield) -----------------------


def _fields(n: int):
    """Receptive fields an axis of size ``n`` may enter with: the input's, a strided window's, a
    transposed convolution's (a pattern of period 2), one not known."""
    from convcalc.kinds import RFAxis
    from convcalc.kinds._rf import unknown_axis

    plain = RFAxis()
    return [plain, plain.through(3, 2, 1, 1, n), plain.through(5, 1, 2, 3, n).transposed(3, 2, 1, 1, n), unknown_axis("a test", n)]


def _refield_cases():
    from test_kind_goldens import GOLDEN

    from convcalc.kinds import KINDS, LayerKind

    for kind, (shape, items, _) in sorted(GOLDEN.items()):
        if KINDS[kind].refield is LayerKind.refield:
            continue
        yield pytest.param(kind, shape, items, id=kind)


@pytest.mark.parametrize(("kind", "shape", "items"), list(_refield_cases()))
def test_a_kind_s_refield_is_its_infer_on_another_field(kind, shape, items):
    """Every kind with a ``refield`` answers as its ``infer`` does on an input of the same shape with
    another receptive field (or none, or a global one), everything else of the result unchanged;
    so does its ``refielder``, made once on the first input (as the memo makes it)."""
    from test_kind_goldens import spec_of

    from convcalc.graph import _memo
    from convcalc.kinds import RFAxis, Tensor
    from convcalc.kinds._run import run

    report = convcalc.analyze(convcalc.load_spec(spec_of(shape, items)))
    row = next(r for r in reversed(report.rows) if r.kind == kind)
    x_shape = row.input_shapes[0]
    first = Tensor(x_shape, tuple(RFAxis() for _ in x_shape[1:]))
    was, _ = run(row.layer, [first], False)
    n = x_shape[1] if len(x_shape) > 1 else 1
    entering = [(tuple(f for _ in x_shape[1:]), False) for f in _fields(n)] + [((), True), ((), False)]
    if len(x_shape) == 3:  # a field whose axes differ (a square one through a square window is worked out once)
        plain, strided = _fields(n)[:2]
        entering += [((plain, strided), False), ((strided, plain), False)]
    refield = row.layer.refielder(first, was)
    for rf, is_global in entering:
        x = Tensor(x_shape, rf, is_global)
        want, _ = run(row.layer, [x], False)
        assert refield(rf, is_global) == row.layer.refield(x, was)
        got = _memo._with_field(was, refield(rf, is_global))
        assert got is not None
        fields = [f.name for f in dataclasses.fields(want) if f.name != "formulas"]
        assert [getattr(got, f) for f in fields] == [getattr(want, f) for f in fields]
        formulas = [r.formulas() if callable(r.formulas) else r.formulas for r in (got, want)]
        assert formulas[0] == formulas[1]


def test_a_kind_s_refielder_is_made_beside_its_refield():
    """The memo asks a kind for its ``refielder``: a kind that says its ``refield`` says its
    ``refielder`` in the same class (or keeps the default, which calls ``refield``), so that no
    kind answers with a parent's window when its own ``refield`` differs."""
    from convcalc.kinds import KINDS, LayerKind

    def owner(cls, name):
        return next(c for c in cls.__mro__ if name in c.__dict__)

    for kind, cls in KINDS.items():
        assert owner(cls, "refielder") in (LayerKind, owner(cls, "refield")), kind
        assert owner(cls, "refielder_many") in (LayerKind, owner(cls, "refield_many")), kind
    assert {owner(cls, "refielder").__name__ for cls in KINDS.values()} >= {"LayerKind", "_Conv", "_Pool"}


MERGES_WITH_REFIELD = ["add", "multiply", "concat"]


def test_every_kind_with_refield_many_is_checked_below():
    from convcalc.kinds import KINDS, LayerKind

    assert sorted(k for k, cls in KINDS.items() if cls.refield_many is not LayerKind.refield_many) == sorted(MERGES_WITH_REFIELD)


@pytest.mark.parametrize("kind", MERGES_WITH_REFIELD)
def test_a_merge_s_refield_is_its_infer_on_other_fields(kind):
    """A merge's ``refield_many`` answers as its ``infer_many`` does on inputs of the same shapes
    with other receptive fields (misaligned, not known, global, none), or declines (None) when the
    notes would differ; the copies of a residual stack take the first way."""
    from convcalc.graph import _memo
    from convcalc.kinds import KINDS, RFAxis, Tensor
    from convcalc.kinds._run import run

    layer = KINDS[kind]()
    shapes = [(4, 8, 8), (4, 8, 8)] if kind != "multiply" else [(4, 8, 8), (4, 1, 1)]
    plain = tuple(RFAxis() for _ in range(2))
    was, _ = run(layer, [Tensor(s, plain) for s in shapes], False)
    fields = [(tuple(f for _ in range(2)), False) for f in _fields(8)] + [((), True), ((), False)]
    fields += [(tuple(f.through(3, 1, 1, 1, 8) for _ in range(2)), False) for f in _fields(8)[:2]]  # aligned with others
    refield = layer.refielder_many([Tensor(s, plain) for s in shapes], was)  # as the memo makes it, on the first inputs
    answered = 0
    for a in fields:
        for b in fields:
            xs = [Tensor(shapes[0], *a), Tensor(shapes[1], *b)]
            want, _ = run(layer, xs, False)
            assert refield([a, b]) == layer.refield_many(xs, was)
            got = _memo._with_field(was, layer.refield_many(xs, was))
            if got is None:
                assert want.notes != was.notes
                continue
            answered += 1
            names = [f.name for f in dataclasses.fields(want)]
            assert [getattr(got, f) for f in names] == [getattr(want, f) for f in names]
    # at least the aligned pairs (a field with itself) of same-sized inputs; the broadcast gate of
    # multiply reads one position, and its field is misaligned with the other's but for the input's
    assert answered >= (len(fields) if kind != "multiply" else 2)


def test_the_positional_constructors_make_what_the_dataclasses_make():
    """``positional_constructor`` of a node, of a port and of a row (graph.model) makes the object
    the class's ``__init__`` makes from the same fields in order, every slot set; leaving a field
    out is an error."""
    from convcalc.graph.model import Node, Port, positional_constructor
    from convcalc.report.model import Row

    make_node, make_port, make_row = positional_constructor(Node), positional_constructor(Port), positional_constructor(Row)
    report = convcalc.analyze(convcalc.load_spec(REPEATS))
    ports = [p for n in report.graph.nodes for p in (*n.inputs, *n.refs)]
    for cls, make, items in ((Node, make_node, report.graph.nodes), (Port, make_port, ports), (Row, make_row, report.rows)):
        for item in items:
            values = [getattr(item, f.name) for f in dataclasses.fields(cls)]
            made = make(*values)
            assert type(made) is cls and made == cls(*values)
            assert [getattr(made, name) for name in cls.__slots__] == values
        with pytest.raises(TypeError):
            make(*values[:-1])
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(made, dataclasses.fields(cls)[0].name, "changed")


# -- the copies of a repeat that all read as one item (FoldMemo.replay_copies) -----------------

CROPPED = """\
name: cropped
input: [8, 32, 32]
layers:
  - seq:
      - parallel:
          merge: concat
          crop: center
          branches:
            - [{conv2d: {out_channels: 4, kernel_size: 3}}]
            - [{conv2d: {out_channels: 4, kernel_size: 3, padding: 1}}]
      - conv2d: {out_channels: 8, kernel_size: 3, padding: 2}
    repeat: 10
"""


def one_by_one(spec, **kwargs):
    """The graph with each copy of a repeat asked of the memo (fold_one), none in a row."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build._Folder, "replay_copies", lambda self, item, x, prefix, r, repeat, depth, env: (r, x))
        return build_graph(spec, **kwargs)


@pytest.mark.parametrize("shape", [None, (8, "H", "W")])
def test_copies_in_a_row_are_the_graph_of_copies_one_by_one(shape):
    spec = convcalc.load_spec(CROPPED)
    keys = []
    with pytest.MonkeyPatch.context() as patch:
        memo_key = build._Folder.memo_key
        patch.setattr(build._Folder, "memo_key", lambda self, *args: keys.append(args[0]) or memo_key(self, *args))
        graph = build_graph(spec, input_shape=shape)
    same_graph(graph, one_by_one(spec, input_shape=shape))
    same_graph(graph, fresh(spec, input_shape=shape))
    # the first copy reads the network input (no key), the second is folded and kept: the 8
    # others are copied in a row, with one key
    assert keys.count("seq") == 4
    # per copy: two branch convs, the crop of the padded one (32 -> 30), the concat, the conv (30 -> 32)
    assert len(graph.nodes) == 10 * 5 and graph.nodes[-1].path == "0.9.1" and graph.nodes[-3].path == "0.9.0.concat_crop_branch2"
    if shape is None:
        # each copy's last conv widens the field by 2 + 2 (the first branch's conv and its own)
        assert graph.results[-1].shape == (8, 32, 32) and graph.results[-1].rf[0].size == 1 + 10 * (2 + 2)


def test_a_limit_met_by_a_copy_in_a_row_is_reported_as_one_by_one(monkeypatch):
    """The estimate counts 4 rows a copy (not the crop): the limit falls inside the 9th copy."""
    monkeypatch.setattr(build, "MAX_LAYERS", 42)
    spec = convcalc.load_spec(CROPPED)
    errors = []
    for make in (build_graph, one_by_one, fresh):
        with pytest.raises(convcalc.SpecError) as caught:
            make(spec)
        errors.append(caught.value.render())
    assert errors[0] == errors[1] == errors[2]
    assert "44 layers" in errors[0] and caught.value.code == "limit-layers"


# -- what every copy of a fold repeats, worked out once (FoldMemo.copy_plan) ------------------

ROWS = """\
name: rows
input: [8, 16, 16]
params: {width: 8, scale: 2}
blocks:
  unit:
    params: {width: ~, scale: 1}
    layers:
      - parallel:
          merge: concat
          crop: center
          branches:
            - [{conv2d: {out_channels: "${width // 2}", kernel_size: 3}}]
            - [{conv2d: {out_channels: "${width // 2}", kernel_size: 3, padding: 1}}]
      - conv2d: {out_channels: $width, kernel_size: 3, padding: 2}
      - conv2d: {out_channels: $width, kernel_size: 3, padding: "${2 - scale}"}
        expect: {params: "${width * in_channels * 9 + width}"}
        id: mid
      - residual:
          body:
            - relu
            - conv2d: {out_channels: $width, kernel_size: 1}
          shortcut:
            - max_pool2d: {kernel_size: 1}
              input: mid
  outer:
    params: {width: ~}
    layers:
      - unit: {width: $width}
      - unit: {width: $width, scale: $scale}
layers:
  - unit: {width: $width}
    repeat: 4
  - outer: {width: $width}
    repeat: 3
    name: outer
  - seq:
      - conv2d: {out_channels: 8, kernel_size: 3}
    repeat: 4
"""


@pytest.mark.parametrize("shape", [None, (8, "H", "W")])
def test_copies_of_blocks_with_ids_expectations_and_shadowed_params_are_copied_exactly(shape):
    """Block uses copied in a row and one by one: their ids, expectations and parameters (a
    block's own ``scale`` shadows the spec's), nested block uses, a row that ends where the
    shape changes (the last seq's copies shrink it)."""
    spec = convcalc.load_spec(ROWS)
    graph = build_graph(spec, input_shape=shape)
    same_graph(graph, one_by_one(spec, input_shape=shape))
    same_graph(graph, fresh(spec, input_shape=shape))
    blocks = [g for g in graph.groups if g.role == "block"]
    assert len(blocks) == 4 + 3 * 3 and {g.params["scale"] for g in blocks} == {1, 2}
    # ten units of ten nodes (two branch convs, a crop, the concat, two convs, the residual's four), the seq's four
    assert graph.nodes[-1].path == "2.3.0" and len(graph.nodes) == 10 * 10 + 4
    if shape is None:  # each outer's second unit shrinks the input by 2, each of the seq's copies too
        assert graph.results[-1].shape == (8, 16 - 3 * 2 - 4 * 2, 16 - 3 * 2 - 4 * 2)


@pytest.mark.parametrize("shape", [None, (8, 16, "W")])
def test_a_fault_in_a_copy_after_a_row_is_reported_as_one_by_one(shape):
    """The copies shrink the input until one has nothing left to read: its fault is reported
    where a build without the memo reports it."""
    spec = convcalc.load_spec(ROWS.replace("kernel_size: 3}\n    repeat: 4\n", "kernel_size: 3}\n    repeat: 9\n"))
    errors = []
    for make in (build_graph, one_by_one, fresh):
        with pytest.raises(convcalc.SpecError) as caught:
            make(spec, input_shape=shape)
        errors.append(caught.value.render())
    assert errors[0] == errors[1] == errors[2]


@pytest.mark.parametrize("symbolic", [False, True])
def test_a_limit_met_inside_a_copy_of_blocks_is_reported_as_one_by_one(monkeypatch, symbolic):
    """The estimate counts 4 rows a unit (not the crop): the limit falls inside a copy of outer."""
    monkeypatch.setattr(build, "MAX_SYMBOLIC_LAYERS" if symbolic else "MAX_LAYERS", 95)
    spec = convcalc.load_spec(ROWS)
    errors = []
    for make in (build_graph, one_by_one, fresh):
        with pytest.raises(convcalc.SpecError) as caught:
            make(spec, input_shape=(8, "H", "W") if symbolic else None)
        errors.append(caught.value.render())
    assert errors[0] == errors[1] == errors[2]
    assert caught.value.code == "limit-layers" and "96 layers" in errors[0] and "in block 'unit'" in errors[0]


# -- a merge's common case: simple fields of one jump and one centre (merge_rf) -----------------


@pytest.mark.parametrize("kind", MERGES_WITH_REFIELD)
def test_a_merge_of_aligned_fields_is_the_union_its_general_way_makes(kind, monkeypatch):
    """``merge_rf`` unites simple axes of one jump and one centre at once (``simple_union``):
    what its general way (holes, ``merge_axes`` per axis, the notes) makes of every pair of
    fields, misaligned, strided, patterned, not known, broadcast or symbolic."""
    from convcalc.kinds import KINDS, RFAxis, Tensor, merge
    from convcalc.kinds._run import run

    layer = KINDS[kind]()
    plain = RFAxis()
    H = pytest.importorskip("sympy").Symbol("H", integer=True, positive=True)
    extra = [plain.through(3, 1, 1, 1, 8), plain.through(3, 1, 1, 0, 8), plain.through(3, 1, 1, H, 8), plain.through(2, 2, 1, 0, 8).through(3, 1, 1, 1, 8)]
    fields = [(tuple(f for _ in range(2)), False) for f in [*_fields(8), *extra]] + [((extra[0], plain), False), ((), True), ((), False)]
    shapes = [[(4, 8, 8), (4, 8, 8)]] + ([[(4, 8, 8), (4, 1, 1)], [(4, 8, 8), (4, 8, 1)]] if kind == "multiply" else [])
    fast = 0
    for pair in shapes:
        for a in fields:
            for b in fields:
                xs = [Tensor(pair[0], *a), Tensor(pair[1], *b)]
                got, _ = run(layer, xs, False)
                with monkeypatch.context() as patch:
                    patch.setattr(merge, "simple_union", lambda *args, **kwargs: None)
                    want, _ = run(layer, xs, False)
                assert got == want
                fast += bool(got.rf) and all(len(axis.comps) == 1 for axis in got.rf) and not got.notes
    assert fast > len(fields)


@pytest.mark.parametrize("shape", [None, (8, "H", "W")])
def test_graphs_of_residuals_and_concats_are_the_same_without_the_common_case(shape, monkeypatch):
    from convcalc.kinds import merge

    for text in (REPEATS, ROWS):
        spec = convcalc.load_spec(text)
        graph = build_graph(spec, input_shape=shape)
        with monkeypatch.context() as patch:
            patch.setattr(merge, "simple_union", lambda *args, **kwargs: None)
            same_graph(graph, fresh(spec, input_shape=shape))
