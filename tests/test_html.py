"""The HTML report in a real headless browser (Debian's chromium, driven by Playwright), the graph
export rendered by Graphviz's dot, and what is said when one of them is missing.

`.ci/run` installs chromium, graphviz, playwright and matplotlib, so nothing here is skipped in CI.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convcalc.cli import app
from convcalc.render.graph import render_dot, render_mermaid
from convcalc.render.report import display_rows
from helpers import analyze_model

CHROMIUM = "/usr/bin/chromium"
LAUNCH_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent.parent / "build" / "screenshots"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with playwright.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=LAUNCH_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        yield context
        context.close()


def _page_of(tmp_path: Path, model: str) -> Path:
    out = tmp_path / f"{model}.html"
    result = CliRunner().invoke(app, ["summary", model, "--format", "html", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("model", ["unet", "googlenet"])
def test_html_report_in_a_browser(browser, tmp_path, model):
    report = analyze_model(model)
    path = _page_of(tmp_path, model)
    page = browser.new_page()
    errors, requests = [], []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    assert errors == []
    assert requests == [path.as_uri()]  # the page itself, nothing else
    assert page.locator("#layers tbody tr.layer").count() == len(report.rows)
    assert page.locator("#network svg g.node.layer").count() == len(report.rows)
    assert page.locator("#charts svg").count() == 1
    first = report.rows[0]
    assert page.locator("#layers tbody tr.layer").first.locator("td").nth(6).inner_text() == f"{first.macs:,}"

    # sorting by MACs puts the costliest layer first; "#" brings the network's order back
    page.locator("#layers thead th", has_text="MACs").click()
    page.locator("#layers thead th", has_text="MACs").click()
    top = page.locator("#layers tbody tr:not(.hidden)").first.get_attribute("data-path")
    assert top == max(report.rows, key=lambda r: r.macs).path
    page.locator("#layers thead th").first.click()
    assert page.locator("#layers tbody tr:not(.hidden)").first.get_attribute("data-path") == display_rows(report)[0].path

    # folding the first block hides its layers
    group = sorted(report.groups, key=lambda g: (g.first, g.depth))[0]
    visible = page.locator("#layers tbody tr.layer:not(.hidden)").count()
    page.locator(f'#layers tr.group[data-path="{group.path}"] td.label').click()
    assert page.locator("#layers tbody tr.layer:not(.hidden)").count() == visible - (group.end - group.first)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{model}.png"
    page.screenshot(path=str(shot), full_page=False)
    page.locator("#network").screenshot(path=str(SCREENSHOTS / f"{model}_network.png"))
    from PIL import Image

    pixels = Image.open(shot).convert("L")
    histogram = pixels.histogram()
    assert sum(histogram[:200]) > 0.01 * pixels.width * pixels.height  # not blank: text, lines, boxes
    page.close()


@pytest.mark.parametrize("width", [390, 800])
def test_html_report_fits_a_phone(browser, tmp_path, width):
    """At a phone's width the page itself never scrolls sideways: the table and the drawing
    scroll in their own boxes, the charts shrink to the page."""
    path = _page_of(tmp_path, "unet")
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") == width
    assert page.evaluate("document.querySelector('#charts svg').getBoundingClientRect().width") <= width
    page.close()


def test_graph_dot_is_valid_graphviz(tmp_path):
    """issue 16: `convcalc graph resnet18 --format dot` is valid Graphviz input."""
    if shutil.which("dot") is None:
        pytest.fail("Graphviz's dot is missing: apt-get install graphviz (.ci/run does)")
    result = CliRunner().invoke(app, ["graph", "resnet18", "--format", "dot"])
    assert result.exit_code == 0, result.output
    svg = subprocess.run(["dot", "-Tsvg"], input=result.stdout, capture_output=True, text=True, check=True, timeout=120).stdout
    report = analyze_model("resnet18")
    assert svg.count('class="node layer"') == len(report.rows) == 69
    assert svg.count('class="node io"') == 2
    # 8 basic blocks: each block's add reads two tensors, the network has one edge per tensor read
    edges = sum(len(node.inputs) for node in report.graph.nodes) + 1
    assert svg.count('class="edge"') == edges


def test_graph_formats(tmp_path):
    png = tmp_path / "unet.png"
    assert CliRunner().invoke(app, ["graph", "unet", "-f", "png", "-o", str(png)]).exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = CliRunner().invoke(app, ["graph", "lenet5", "-f", "svg"]).stdout
    assert svg.count('class="node layer"') == 13
    mermaid = render_mermaid(analyze_model("unet"))
    assert mermaid.startswith("flowchart TD\n")
    assert mermaid.count("-.->|size|") == 4  # the four crops read the decoder's size


def test_skips_merges_and_clusters_are_drawn():
    unet = render_dot(analyze_model("unet"))
    # each encoder stage's output feeds a crop in the decoder (the long skip edge); the crop
    # reads the up-convolution's output for its size only (dashed)
    assert unet.count("style=dashed") == 4
    assert unet.count("subgraph cluster_") == 17
    googlenet = render_dot(analyze_model("googlenet"))
    assert googlenet.count('class="layer"') == 197
    inception = analyze_model("googlenet").graph
    concat = next(n for n in inception.nodes if n.kind == "concat")
    assert len(concat.inputs) == 4  # an Inception module's four branches merge in one node


def test_missing_dot_and_matplotlib_say_what_to_install(monkeypatch):
    import builtins

    import convcalc.render.graph as graph

    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    result = CliRunner().invoke(app, ["graph", "lenet5", "-f", "svg"])
    assert result.exit_code == 2 and "error[graph-no-dot]" in result.stderr and "apt-get install graphviz" in result.stderr
    monkeypatch.undo()
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ModuleNotFoundError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    result = CliRunner().invoke(app, ["summary", "lenet5", "-f", "html"])
    assert result.exit_code == 2 and "error[report-no-matplotlib]" in result.stderr and "pip install 'convcalc[report]'" in result.stderr


def test_png_is_not_written_to_a_terminal(monkeypatch):
    import sys

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    from convcalc.cli.graph import graph_command
    from convcalc.errors import UsageError

    with pytest.raises(UsageError, match="writes an image"):
        graph_command("lenet5", None, "png", None)
