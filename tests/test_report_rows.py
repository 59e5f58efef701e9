"""The rows and groups of a report as the engine makes them (report_of), fast, and as their
dataclasses make them."""

from __future__ import annotations

import dataclasses

import pytest

import convcalc
from convcalc.graph.model import GroupNode, positional_constructor
from convcalc.report.model import Group, Row
from convcalc.spec.zoo import builtin_names

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


ODD_FIELDS = """\
name: odd-fields
input: [3, 37, 29]
layers:
  - conv2d: {out_channels: 4, kernel_size: [3, 5], stride: [2, 3], padding: [1, 0]}
  - max_pool2d: {kernel_size: 3, stride: 2, ceil_mode: true}
  - adaptive_avg_pool2d: {output_size: [3, 2]}
  - flatten
  - linear: {out_features: 2}
"""


@pytest.mark.parametrize("name", [*builtin_names(), "odd-fields", "resnet50 at 3xHxW"])
def test_the_tables_field_size_is_the_fields_own(name):
    """The table's RF column (``format_rf``, which works a textbook field out directly) says, for
    every row, what each axis's ``size`` says: one number when the axes agree, else ``AxB``."""
    from convcalc.render.report import _rf_value_text, format_rf

    if name == "odd-fields":
        report = convcalc.analyze(convcalc.load_spec(ODD_FIELDS))
    elif name == "resnet50 at 3xHxW":
        report = convcalc.analyze(convcalc.load_model("resnet50"), input_shape=(3, "H", "W"))
    else:
        report = convcalc.analyze(convcalc.load_model(name))
    for row in report.rows:
        values = [_rf_value_text(a, "size") for a in row.rf]
        expected = "global" if row.is_global else "" if not row.rf else values[0] if len(set(values)) == 1 else "x".join(values)
        assert format_rf(row.rf, row.is_global) == expected, row.path
