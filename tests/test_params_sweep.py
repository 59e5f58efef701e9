"""Top-level spec parameters (``params:``, ``--set name=value``), EfficientNet B0-B7 from one spec,
and ``convcalc sweep`` over a design space."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from convcalc.analysis.grid import parse_grid

PUBLISHED = yaml.safe_load((Path(__file__).parent / "reference" / "published.yaml").read_text())["models"]

# torchvision's efficientnet_b0..b7: (width_mult, depth_mult) and the paper's resolution
EFFICIENTNETS = {
    "efficientnet_b0": (1.0, 1.0, 224), "efficientnet_b1": (1.0, 1.1, 240), "efficientnet_b2": (1.1, 1.2, 260),
    "efficientnet_b3": (1.2, 1.4, 300), "efficientnet_b4": (1.4, 1.8, 380), "efficientnet_b5": (1.6, 2.2, 456),
    "efficientnet_b6": (1.8, 2.6, 528), "efficientnet_b7": (2.0, 3.1, 600),
}
# published.yaml's totals, written out (and held to the file below)
EXACT = {
    "efficientnet_b0": (5_288_548, 385_814_752), "efficientnet_b1": (7_794_184, 686_802_832),
    "efficientnet_b2": (9_109_994, 993_561_872), "efficientnet_b3": (12_233_232, 1_827_141_392),
    "efficientnet_b4": (19_341_616, 4_393_771_024), "efficientnet_b5": (30_389_784, 10_266_384_752),
    "efficientnet_b6": (43_040_704, 19_067_593_536), "efficientnet_b7": (66_347_960, 37_745_884_192),
}


def summary_json(run_cli, *args):
    code, out, err = run_cli("summary", *args, "-f", "json")
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("name", sorted(EFFICIENTNETS))
def test_efficientnet_family_from_one_spec(run_cli, name):
    width, depth, resolution = EFFICIENTNETS[name]
    data = summary_json(run_cli, "efficientnet", "--set", f"width_mult={width},depth_mult={depth},resolution={resolution}")
    assert (data["totals"]["params"], data["totals"]["macs"]) == EXACT[name]
    assert data["input_shape"] == [3, resolution, resolution] and data["output_shape"] == [1000]
    assert (PUBLISHED[name]["params"], PUBLISHED[name]["macs"]) == EXACT[name]


def test_efficientnet_defaults_are_the_b0_built_in(run_cli):
    family, b0 = summary_json(run_cli, "efficientnet"), summary_json(run_cli, "efficientnet_b0")
    # the same rows, paths included; a stage of the family is a seq around its repeat, one level deeper
    def rows(data):
        return [{k: v for k, v in layer.items() if k != "depth"} for layer in data["layers"]]

    assert rows(family) == rows(b0) and family["totals"] == b0["totals"]


def test_params_in_the_input_and_in_blocks(run_cli, tmp_path):
    spec = tmp_path / "p.yaml"
    spec.write_text(
        "name: p\nparams: {width: 8, size: 32}\ninput: [3, '${size}', '${size}']\n"
        "blocks:\n  b:\n    layers: [{conv2d: {out_channels: '${width * 2}', kernel_size: 3}}]\n"
        "layers:\n  - b\n"
    )
    data = summary_json(run_cli, str(spec))
    assert (data["input_shape"], data["output_shape"], data["totals"]["params"]) == ([3, 32, 32], [16, 30, 30], 16 * 3 * 9 + 16)
    data = summary_json(run_cli, str(spec), "--set", "width=4,size=10")
    assert (data["input_shape"], data["output_shape"], data["totals"]["params"]) == ([3, 10, 10], [8, 8, 8], 8 * 3 * 9 + 8)
    code, _, err = run_cli("summary", str(spec), "--set", "width=4,width=5")
    assert code == 2 and "given twice" in err


def test_grid_values_are_stepped_exactly():
    assert parse_grid("width_mult=0.5..2.0:0.25") == ("width_mult", [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0])
    assert parse_grid("depth=1..3") == ("depth", [1, 2, 3])
    assert parse_grid("w=0.1..0.3:0.1") == ("w", [0.1, 0.2, 0.3])  # not 0.30000000000000004
    assert parse_grid("act=relu,hardswish") == ("act", ["relu", "hardswish"])


def test_sweep_points_equal_separate_summaries(run_cli):
    code, out, err = run_cli("sweep", "efficientnet", "--grid", "width_mult=1.0,1.1", "--grid", "depth_mult=1.0..1.2:0.2", "--budget", "macs<=600M", "-f", "json")
    assert code == 0, err
    points = json.loads(out)["points"]
    assert [(p["width_mult"], p["depth_mult"]) for p in points] == [(1.0, 1.0), (1.0, 1.2), (1.1, 1.0), (1.1, 1.2)]
    for p in points:
        alone = summary_json(run_cli, "efficientnet", "--set", f"width_mult={p['width_mult']},depth_mult={p['depth_mult']}")
        assert (p["params"], p["macs"], p["flops"], p["output_shape"]) == (
            alone["totals"]["params"], alone["totals"]["macs"], alone["totals"]["flops"], alone["output_shape"])
        assert p["peak_activation_bytes"] == alone["memory"]["peak_activation_bytes"]
        assert p["budget_ok"] == (p["macs"] <= 600_000_000)
    assert [p["pareto"] for p in points] == [True, False, False, False]  # B0 has the least params and MACs


def test_sweep_refuses_what_the_spec_lacks(run_cli):
    code, _, err = run_cli("sweep", "resnet50", "--grid", "width=1,2")
    assert code == 2 and "no parameter 'width'" in err
    code, _, err = run_cli("sweep", "efficientnet", "--grid", "width_mult=2..1")
    assert code == 2 and "LOW <= HIGH" in err


def test_a_depth_sweep_shares_blocks_and_equals_separate_summaries(run_cli, tmp_path):
    """Points that repeat blocks of others (the same block on the same input) are copied from
    them: each point must still be what its own summary says."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from run import resnet_depths_spec

    spec = tmp_path / "resnet_depths.yaml"
    spec.write_text(resnet_depths_spec())
    code, out, err = run_cli("sweep", str(spec), "--grid", "depth2=1,4", "--grid", "depth3=2,6", "--grid", "depth4=1..3", "-f", "json")
    assert code == 0, err
    points = json.loads(out)["points"]
    assert len(points) == 2 * 2 * 3
    resnet50 = next(p for p in points if (p["depth2"], p["depth3"], p["depth4"]) == (4, 6, 3))
    assert (resnet50["params"], resnet50["macs"]) == (25_557_032, 4_089_184_256)
    for p in points:
        alone = summary_json(run_cli, str(spec), "--set", f"depth2={p['depth2']},depth3={p['depth3']},depth4={p['depth4']}")
        assert (p["params"], p["macs"], p["flops"], p["output_shape"], p["peak_activation_bytes"]) == (
            alone["totals"]["params"], alone["totals"]["macs"], alone["totals"]["flops"], alone["output_shape"], alone["memory"]["peak_activation_bytes"])
        last = alone["layers"][-1]
        assert p["receptive_field"] == ("global" if last["receptive_field_global"] else max(a["size"] for a in last["receptive_field"]))


def test_measures_from_the_graph_equal_the_reports():
    """A sweep without budgets measures each point from its graph's results: the same five
    numbers and output as the report's, for every built-in."""
    import convcalc
    from convcalc.analysis.grid import measure, measure_graph
    from convcalc.errors import ConvcalcError
    from convcalc.graph.build import build_graph
    from convcalc.spec.zoo import builtin_names, read_source

    measured = 0
    for name in builtin_names():
        spec = convcalc.load_spec(read_source(name)[0], name)
        try:
            graph = build_graph(spec)
        except ConvcalcError:
            continue
        report = convcalc.analyze(graph)
        got = measure_graph(graph)
        assert got is None or got == (measure(report), tuple(report.output_shape)), name
        measured += got is not None
    assert measured >= 20


SWEEPABLE = """\
name: sweepable
params: {size: 16, width: 4, depth: 1, tail: 1, join: 0, pool: 1, classes: 10}
input: [3, '${size}', '${size}']
blocks:
  unit:
    params: {out: ~}
    layers:
      - conv2d: {out_channels: $out, kernel_size: 3, padding: 1}
      - relu
layers:
  - conv2d: {out_channels: 8, kernel_size: 3}
    id: stem
  - unit: {out: 8}
  - unit: {out: $width}
    name: u${i}
    repeat: $depth
  - conv2d: {out_channels: 8, kernel_size: 3, padding: $tail, dilation: $tail}  # its copies differ with their count
    repeat: $tail
    id: body
  - add: {inputs: [body, stem]}
  - conv2d: {out_channels: 16, kernel_size: 1}
  - add: {inputs: [stem, stem]}  # with join: 1, stem is live at the conv before, the peak
    repeat: $join
  - max_pool2d: {kernel_size: 2}
    repeat: $pool
  - conv2d: {out_channels: $classes, kernel_size: 1}
"""
# given with the params read last first: the sweep analyses them in another order, and reports them in this one
SWEEPABLE_GRID = ("pool=0,1", "join=0,1", "tail=1..3", "depth=1,3", "width=4,8", "size=16,32")


def _summary_metrics(alone):
    last = alone["layers"][-1]
    return {
        "params": alone["totals"]["params"], "macs": alone["totals"]["macs"], "flops": alone["totals"]["flops"],
        "peak_activation_bytes": alone["memory"]["peak_activation_bytes"], "output_shape": alone["output_shape"],
        "receptive_field": "global" if last["receptive_field_global"] else max(a["size"] for a in last["receptive_field"]),
    }


def _on_front(mine, others):
    """Pareto on params and MACs, computed here from the separate summaries."""
    return not any(
        o["params"] <= mine["params"] and o["macs"] <= mine["macs"] and (o["params"], o["macs"]) != (mine["params"], mine["macs"]) for o in others
    )


def test_every_sweep_point_equals_its_own_summary(run_cli, tmp_path):
    """96 points whose receptive fields, peaks, outputs and totals differ, the params given in an
    order the sweep does not analyse them in, measured from the graphs (no budget) and from the
    reports (budgets): each point is what `summary --set` says of it, its budget flags what the
    budgets say of those numbers, its Pareto flag what the summaries say."""
    import itertools

    spec = tmp_path / "sweepable.yaml"
    spec.write_text(SWEEPABLE)
    names = [g.split("=")[0] for g in SWEEPABLE_GRID]
    combinations = list(itertools.product(*(parse_grid(g)[1] for g in SWEEPABLE_GRID)))
    alone = [_summary_metrics(summary_json(run_cli, str(spec), "--set", ",".join(f"{n}={v}" for n, v in zip(names, c)))) for c in combinations]
    for metric in ("receptive_field", "peak_activation_bytes", "output_shape", "params", "macs"):
        assert len({json.dumps(a[metric]) for a in alone}) > 1, metric  # the sample tells the points apart
    for budgets in ((), ("macs<=1M", "peak_activation_bytes<=40000")):
        args = [a for g in SWEEPABLE_GRID for a in ("--grid", g)] + [a for b in budgets for a in ("--budget", b)]
        code, out, err = run_cli("sweep", str(spec), *args, "-f", "json")
        assert code == 0, err
        points = json.loads(out)["points"]
        assert [tuple(p[n] for n in names) for p in points] == combinations
        for p, a in zip(points, alone):
            assert {k: p[k] for k in a} == a, p
            assert p["budget_ok"] == (not budgets or (a["macs"] <= 1_000_000 and a["peak_activation_bytes"] <= 40_000)), p
            assert p["pareto"] == _on_front(a, alone), p
            assert p["error"] is None
        assert 0 < sum(p["budget_ok"] for p in points) < len(points) or not budgets
        assert 0 < sum(p["pareto"] for p in points) < len(points)


def _plain(graph):
    """The graph with its results' derivations written out (a function is equal only to itself)."""
    import dataclasses

    return dataclasses.replace(graph, results=tuple(
        dataclasses.replace(r, formulas=r.formulas() if callable(r.formulas) else r.formulas) for r in graph.results))


@pytest.mark.parametrize("source, grid", [
    ("resnet_depths", ("depth1=1,3", "depth2=1..3", "depth3=2,6", "depth4=3,2,4,1", "classes=10,1000")),
    ("sweepable", SWEEPABLE_GRID),
    ("efficientnet", ("width_mult=1.0,1.1", "depth_mult=1.0,1.2")),
], ids=["resnet-depths", "sweepable", "efficientnet"])
def test_builds_that_start_from_a_prefix_equal_builds_from_scratch(source, grid):
    """A sweep's builds share a memo: each starts from the state of an earlier build after the
    layers that read the same params, and copies blocks folded before. Every node, group, result
    and id of each point is what a build of its own makes."""
    import itertools
    import sys

    import convcalc
    from convcalc.graph.build import build_graph
    from convcalc.spec.zoo import read_source

    if source == "resnet_depths":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
        from run import resnet_depths_spec

        text = resnet_depths_spec()
    else:
        text = SWEEPABLE if source == "sweepable" else read_source(source)[0]
    spec = convcalc.load_spec(text, f"{source}.yaml")
    for grids in ([parse_grid(g) for g in grid], [parse_grid(g) for g in reversed(grid)]):  # the last varies fastest
        memo: dict = {}
        for combination in itertools.product(*(values for _, values in grids)):
            values = {name: v for (name, _), v in zip(grids, combination)}
            shared = build_graph(spec.with_params(values), memo=memo)
            assert _plain(shared) == _plain(build_graph(spec.with_params(values))), values
    # EfficientNet's params are all read by its first item (one seq): only its blocks are shared
    assert any(key[0] == "prefix" for key in memo) == (source != "efficientnet")


def test_sweep_points_that_fail_fail_as_their_summaries(run_cli, tmp_path):
    """At size 3 the pool has no room: those points fail after layers shared with points that do not."""
    spec = tmp_path / "sweepable.yaml"
    spec.write_text(SWEEPABLE)
    grid = ("size=3,16", "pool=0,1", "tail=1,2", "join=0,1")
    code, out, err = run_cli("sweep", str(spec), *(a for g in grid for a in ("--grid", g)), "-f", "json")
    assert code == 0, err
    points = json.loads(out)["points"]
    failed = 0
    for p in points:
        values = ",".join(f"{g.split('=')[0]}={p[g.split('=')[0]]}" for g in grid)
        code, out, _ = run_cli("summary", str(spec), "--set", values, "-f", "json")
        alone = json.loads(out)
        if code == 0:
            assert p["error"] is None and {k: p[k] for k in ("params", "macs", "output_shape")} == {
                "params": alone["totals"]["params"], "macs": alone["totals"]["macs"], "output_shape": alone["output_shape"]}, p
            continue
        e = alone["errors"][0]
        assert p["error"] == f"{e['file']}:{e['line']}:{e['col']}: error[{e['code']}]: {e['message']}", p
        assert p["params"] is None and not p["budget_ok"] and not p["pareto"]
        failed += 1
    assert failed == 4  # size 3 with the pool
