"""The rows and groups of a report as the engine makes them (report_of), fast, and as their
dataclasses make them."""

from __future__ import annotations

import dataclasses

import pytest

import convcalc
from convcalc.graph.model import GroupNode, positional_constructor
from convcalc.report.model import Group, Row

NESTED = """\
name: nested
input: [8, 32, 32]
layers:
  - residual:
      body:
        - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
        - relu
  - seq:
      - conv2d: {out_channels: 4, kernel_size: 3, stride: 2}
      - relu
    repeat: 3
  - adaptive_avg_pool2d: {output_size: 1}
"""


def test_the_positional_constructor_makes_what_the_dataclass_makes():
    """``positional_constructor`` of a row, of a group and of a graph's group makes the object the class's ``__init__`` makes from
    the same fields in order, every slot set and still frozen; leaving a field out is an error."""
    report = convcalc.analyze(convcalc.load_spec(NESTED))
    for cls, items in ((Row, report.rows), (Group, report.groups), (GroupNode, report.graph.groups)):
        make = positional_constructor(cls)
        assert items
        for item in items:
            values = [getattr(item, f.name) for f in dataclasses.fields(cls)]
            made = make(*values)
            assert type(made) is cls and made == cls(*values) and repr(made) == repr(cls(*values))
            assert [getattr(made, name) for name in cls.__slots__] == values
        assert type(items[0]) is cls  # report_of made them so
        with pytest.raises(TypeError):
            make(*values[:-1])
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(made, dataclasses.fields(cls)[0].name, "changed")
        assert dataclasses.replace(made, path="other").path == "other"
