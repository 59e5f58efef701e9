"""``benchmarks/run.py --quick`` runs end to end and writes its JSON; no time is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATUSES = {"ok", "failed", "unsupported", "missing", "skipped"}


def test_quick_run_writes_every_item(tmp_path):
    output = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--no-torch", "--output", str(output)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(output.read_text())

    assert data["schema_version"] == 1
    assert {"cpu", "cores", "python"} <= set(data["machine"])
    results = data["results"]
    assert {r["item"].split()[0] for r in results} == {"1", "2", "3", "4", "5", "6", "7", "8", "9"}
    for r in results:
        assert r["status"] in STATUSES, r
        assert (r["median_s"] is not None) == (r["status"] == "ok"), r
    floor = results[0]
    assert floor["label"] == 'python -c "import typer, rich, pydantic, yaml"' and floor["status"] == "ok"
    least = next(r for r in results if r["label"].startswith("the least convcalc can add"))
    assert least["status"] == "ok" and least["median_s"] == least["extra"]["work_s"] and least["extra"]["yaml_s"] > 0
    assert least["extra"]["ratio_to_typer"] > 1
    scaling = [r for r in results if r["item"] == "3 scaling" and r["status"] == "ok"]
    # quick sizes: 20 and 200 rows for the chains; 7 rows per residual block, 2 and 28 blocks
    assert sorted(r["extra"]["layers"] for r in scaling) == sorted([20, 200, 2 * 7, 28 * 7, 20, 200])
    assert [r["status"] for r in results if r["item"] == "6 torchinfo"] == ["skipped"]
    assert "6 torchinfo" in done.stdout
    big = [r for r in results if r["item"] == "7 big networks"]
    assert len(big) == 2 * 4 and all("peak_rss_mb" in r["extra"] for r in big if r["status"] == "ok")
    sweep = next(r for r in results if r["item"] == "9 sweep")
    assert sweep["extra"]["points"] == 4 and sweep["extra"]["errors"] == 0


def test_hostile_quick_run_gets_the_expected_answers(tmp_path):
    """``benchmarks/hostile.py`` exits 1 when a crafted file gets another exit or error code than
    the one it expects; its quick run must pass (the times are only reported)."""
    output = tmp_path / "hostile.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "hostile.py"), "--quick", "--json", str(output)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(output.read_text())["results"]
    assert len(results) == 4 and all(r["as_expected"] for r in results)
    assert {r["code"] for r in results} == {"limit-yaml-nodes", "limit-layers", "limit-expression", None}
