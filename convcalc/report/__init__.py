"""Frozen results: rows, groups, totals, memory, expectations and conditions."""

from __future__ import annotations

from convcalc.report.model import Condition, Diagnostic, Expectation, Group, Report, Row, Totals

__all__ = ["Condition", "Diagnostic", "Expectation", "Group", "Report", "Row", "Totals"]
