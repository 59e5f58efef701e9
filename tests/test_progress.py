"""Progress on long work: a rich bar on stderr when stderr is a terminal (after a short delay),
nothing otherwise; stdout (JSON, tables) never carries it."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _run_with_stderr_on_a_terminal(args: list[str], stdout_path: Path) -> bytes:
    """Run convcalc with stderr on a pseudo-terminal and stdout in a file; what stderr showed."""
    import os
    import pty
    import select
    import subprocess

    master, slave = pty.openpty()
    with open(stdout_path, "wb") as out:
        child = subprocess.Popen([sys.executable, "-m", "convcalc", *args], stdout=out, stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        seen = b""
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            elif child.poll() is not None:
                break
        assert child.wait(timeout=120) == 0
    os.close(master)
    return seen


def test_progress_bar_on_a_terminal_and_never_in_the_output(tmp_path):
    """sizes over a range long enough to pass the bar's delay (U-Net at 2,000 sizes, a few
    seconds: its crops make sizes fold every size; ResNet-50's 3,000 sizes now answer from its
    rule in less than the delay): the bar is on stderr (a terminal), the JSON on stdout is whole
    and clean; with stderr a pipe nothing is drawn."""
    import subprocess

    out = tmp_path / "sizes.json"
    seen = _run_with_stderr_on_a_terminal(["sizes", "unet", "--range", "1..2000", "-f", "json"], out)
    assert b"trying size" in seen and b"/2000" in seen
    data = json.loads(out.read_text())
    assert data["range"] == [1, 2000]
    piped = subprocess.run([sys.executable, "-m", "convcalc", "sizes", "unet", "--range", "1..2000", "-f", "json"], capture_output=True, timeout=120)
    assert piped.returncode == 0 and piped.stderr == b""
    assert json.loads(piped.stdout) == data
