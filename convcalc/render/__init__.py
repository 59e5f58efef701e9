"""Everything that turns results into text: tables, JSON, CSV, Markdown."""

from __future__ import annotations

from convcalc.render.report import *  # noqa: F403
from convcalc.render.report import __all__  # noqa: F401
