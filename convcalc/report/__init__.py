"""Frozen results: rows, groups, totals, memory, expectations and conditions."""

from __future__ import annotations

from convcalc.report.model import SCHEMA_VERSION, Condition, Diagnostic, Expectation, Group, Report, Row, Totals

__all__ = ["SCHEMA_VERSION", "Condition", "Diagnostic", "Expectation", "Group", "Report", "Row", "Totals"]
