"""Helpers shared by the tests: analyse spec text or a built-in model in one call."""

from __future__ import annotations

import textwrap

import convcalc


def analyze_text(text: str, **kwargs) -> convcalc.Report:
    return convcalc.analyze(convcalc.load_spec(textwrap.dedent(text), "test.yaml"), **kwargs)


def analyze_model(name: str, **kwargs) -> convcalc.Report:
    return convcalc.analyze(convcalc.load_model(name), **kwargs)


# walkthroughs.yaml, output_size_formula: (in, f, s, p, d) -> out
OUTPUT_SIZE_CASES = [
    (6, 3, 1, 0, 1, 4),
    (6, 3, 1, 1, 1, 6),
    (7, 3, 2, 0, 1, 3),
    (6, 3, 3, 0, 1, 2),
    (39, 3, 1, 0, 1, 37),
    (37, 5, 2, 0, 1, 17),
    (17, 5, 2, 0, 1, 7),
    (227, 11, 4, 0, 1, 55),
    (7, 3, 1, 0, 2, 3),
]
