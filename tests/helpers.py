"""Helpers shared by the tests: analyse spec text or a built-in model in one call."""

from __future__ import annotations

import textwrap

import convcalc


def analyze_text(text: str, **kwargs) -> convcalc.Report:
    return convcalc.analyze(convcalc.load_spec(textwrap.dedent(text), "test.yaml"), **kwargs)


def analyze_model(name: str, **kwargs) -> convcalc.Report:
    return convcalc.analyze(convcalc.load_model(name), **kwargs)
