"""Exact numbers and arrays for the hand calculations: parsing (``"1 2; 3 4"``, YAML and CSV
files, named kernels such as ``sobel_x``), printing, and the checks that give a located error for a
ragged matrix or channels of different sizes. The computations are in
:mod:`convcalc.teach.handcalc`.

Values are exact: ints stay ints, a decimal such as ``0.4`` becomes ``Fraction('0.4')``, ``1/9`` is
read as a fraction, and every result is an int when it is integral.
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any, Union

from convcalc.errors import Position, UsageError
from convcalc.spec._yaml import Source, load_yaml

__all__ = [
    "NAMED_KERNELS",
    "Array",
    "Bank",
    "Matrix",
    "MatrixFile",
    "Number",
    "Padding",
    "Pair",
    "Sides",
    "Stack",
    "depth",
    "format_number",
    "is_stack",
    "load_file",
    "named_kernel",
    "parse_array",
    "parse_number",
    "resolve_kernel",
    "to_array",
]

Number = Union[int, Fraction]
Matrix = tuple[tuple[Number, ...], ...]
Stack = tuple[Matrix, ...]  # channels first
Bank = tuple[Stack, ...]  # filters first: [C_out][C_in / groups][k_h][k_w], as Conv2d.weight
Array = Union[Matrix, Stack, Bank]
Pair = tuple[int, int]  # (height, width)
Padding = Union[int, tuple[int, int], tuple[int, int, int, int]]
Sides = tuple[int, int, int, int]  # top, bottom, left, right


# ---------------------------------------------------------------------------------------------
# Numbers


def _exact(value: Number) -> Number:
    """An integral Fraction becomes an int; anything else is returned as is."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return value.numerator
    return value


def parse_number(value: object) -> Number:
    """An int, or an exact Fraction for a decimal (``"0.4"``) or a ratio (``"1/9"``).

    A float is read through its shortest repr, so ``0.4`` gives ``Fraction('0.4')``, not the
    binary approximation. Booleans, infinities and NaN are not numbers here.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Fraction)):
        raise UsageError("apply-bad-matrix", f"{value!r} is not a number")
    try:
        number = Fraction(value) if isinstance(value, (int, Fraction)) else Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError):
        raise UsageError("apply-bad-matrix", f"{value!r} is not a number") from None
    return _exact(number)


def format_number(value: Number) -> str:
    """``3``, ``0.6`` for a terminating decimal, ``1/3`` otherwise.

    p/q terminates exactly when q = 2**a * 5**b; it then has max(a, b) decimal places.
    """
    value = _exact(value)
    if isinstance(value, int):
        return str(value)
    places = _decimal_places(value.denominator)
    if places is None:
        return f"{value.numerator}/{value.denominator}"
    digits = str(abs(value.numerator * 10**places // value.denominator)).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def _decimal_places(denominator: int) -> int | None:
    twos = fives = 0
    while denominator % 2 == 0:
        denominator, twos = denominator // 2, twos + 1
    while denominator % 5 == 0:
        denominator, fives = denominator // 5, fives + 1
    return max(twos, fives) if denominator == 1 else None


# ---------------------------------------------------------------------------------------------
# Matrices: parsing and validation


def _is_rows(value: object) -> bool:
    return isinstance(value, (list, tuple))


def depth(array: Array) -> int:
    """2 for a matrix, 3 for a stack of matrices, 4 for a bank of filters."""
    levels, item = 0, array
    while _is_rows(item) and item:
        levels, item = levels + 1, item[0]
    return levels


def is_stack(array: Array) -> bool:
    """True for a channels-first list of matrices (or a bank of them), False for one matrix."""
    return depth(array) > 2


def to_array(value: object, source: Source | None = None, path: tuple[Any, ...] = ()) -> Array:
    """Validate nested lists as a matrix (list of rows), a stack (list of same-shape matrices) or a
    bank (list of same-shape stacks: filters, then channels), by the nesting of the first value.

    With the ``source`` of a YAML document, an error points at the offending node.
    """
    levels = depth(value) if _is_rows(value) else 0
    if levels == 4 and all(_is_rows(s) and depth(s) == 3 for s in value):
        bank = tuple(_to_stack(s, source, (*path, o), f"filter {o}, ") for o, s in enumerate(value))
        for o, stack in enumerate(bank[1:], start=1):
            if _stack_shape(stack) != _stack_shape(bank[0]):
                raise _bad_matrix(
                    f"filter {o} is {_stack_text(stack)}, filter 0 is {_stack_text(bank[0])}", source, (*path, o)
                )
        return bank
    if levels == 3 and all(_is_rows(m) and m and all(_is_rows(r) for r in m) for m in value):
        return _to_stack(value, source, path, "")
    return _to_matrix(value, source, path, "")


def _to_stack(value: Any, source: Source | None, path: tuple[Any, ...], where: str) -> Stack:
    stack = tuple(_to_matrix(m, source, (*path, c), f"{where}channel {c}: ") for c, m in enumerate(value))
    for c, matrix in enumerate(stack[1:], start=1):
        if _shape(matrix) != _shape(stack[0]):
            raise _bad_matrix(
                f"{where}channel {c} is {_size_text(matrix)}, channel 0 is {_size_text(stack[0])}",
                source, (*path, c),
            )
    return stack


def _stack_shape(stack: Stack) -> tuple[int, int, int]:
    return (len(stack), *_shape(stack[0]))


def _stack_text(stack: Stack) -> str:
    return "x".join(map(str, _stack_shape(stack)))


def _to_matrix(value: object, source: Source | None, path: tuple[Any, ...], where: str) -> Matrix:
    if not _is_rows(value) or not value or not all(_is_rows(row) and row for row in value):
        raise _bad_matrix(f"{where}a matrix is a non-empty list of non-empty rows, got {value!r}", source, path)
    width = len(value[0])
    for r, row in enumerate(value[1:], start=1):
        if len(row) != width:
            values = "value" if len(row) == 1 else "values"
            raise _bad_matrix(f"{where}row {r + 1} has {len(row)} {values}, row 1 has {width}", source, (*path, r))
    return tuple(
        tuple(_cell(cell, source, (*path, r, c), f"{where}row {r + 1}, column {c + 1}: ") for c, cell in enumerate(row))
        for r, row in enumerate(value)
    )


def _cell(value: object, source: Source | None, path: tuple[Any, ...], where: str) -> Number:
    try:
        return parse_number(value)
    except UsageError as error:
        raise _bad_matrix(f"{where}{error.message}", source, path) from None


def _bad_matrix(message: str, source: Source | None, path: tuple[Any, ...]) -> UsageError:
    return UsageError("apply-bad-matrix", message, source.pos(path) if source else None)


def parse_array(text: str, name: str = "matrix") -> Array:
    """Read a matrix written inline: ``"3,0,1;1,5,8"`` or ``"3 0 1; 1 5 8"`` (rows split by ``;``,
    values by commas or spaces), or as YAML nested lists, ``"[[1,2],[3,4]]"``; three levels of
    nesting give a channels-first stack, four a bank of filters. ``name`` labels the YAML
    positions in errors.
    """
    stripped = text.strip()
    if stripped.startswith("["):
        value, source = load_yaml(stripped, name)
        return to_array(value, source)
    rows = [re.split(r"[,\s]+", row.strip()) for row in stripped.split(";") if row.strip()]
    return to_array(rows)


@dataclass(frozen=True)
class MatrixFile:
    """What a matrices file holds; any part may be missing."""

    input: Array | None
    kernel: Array | None
    grad: Array | None = None


_FILE_KEYS = ("input", "kernel", "grad")


def load_file(path: Path) -> MatrixFile:
    """Read ``input``, ``kernel`` and ``grad`` (the upstream gradient of ``--backward``) from a
    YAML file, or one input matrix from a ``.csv`` file.

    In YAML the kernel may be a matrix or a name from ``NAMED_KERNELS``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError("apply-bad-file", f"cannot read {path}: {error}") from None
    if not text.strip():
        raise UsageError("apply-bad-file", "the file is empty", Position(str(path)))
    if path.suffix.lower() == ".csv":
        return MatrixFile(_read_csv(text, path), None)
    value, source = load_yaml(text, str(path))
    if not isinstance(value, dict):
        raise UsageError("apply-bad-file", "expected a mapping with `input`, `kernel` and/or `grad`", Position(str(path)))
    for key in value:
        if key not in _FILE_KEYS:
            raise UsageError(
                "apply-bad-file", f"unknown key {key!r}; the keys are {', '.join(_FILE_KEYS)}",
                source.pos((key,), key=True),
            )
    return MatrixFile(*(_file_array(value, key, source) for key in _FILE_KEYS))


def _file_array(value: dict[str, Any], key: str, source: Source) -> Array | None:
    if key not in value:
        return None
    if key == "kernel" and isinstance(value[key], str):
        return named_kernel(value[key])
    return to_array(value[key], source, (key,))


def _read_csv(text: str, path: Path) -> Matrix:
    rows = [[cell.strip() for cell in row] for row in csv.reader(text.splitlines())]
    try:
        return _to_matrix([row for row in rows if any(row)], None, (), "")
    except UsageError as error:
        raise UsageError(error.code, error.message, Position(str(path))) from None


# ---------------------------------------------------------------------------------------------
# Named kernels


def _scaled(scale: Fraction, rows: Sequence[Sequence[int]]) -> Matrix:
    return tuple(tuple(_exact(scale * v) for v in row) for row in rows)


_SOBEL_X: Matrix = ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1))  # walkthroughs.yaml named_kernels.sobel_vertical
_SOBEL_Y: Matrix = ((-1, -2, -1), (0, 0, 0), (1, 2, 1))  # walkthroughs.yaml named_kernels.sobel_horizontal
_BINOMIAL_5 = ((1, 4, 6, 4, 1), (4, 16, 24, 16, 4), (6, 24, 36, 24, 6), (4, 16, 24, 16, 4), (1, 4, 6, 4, 1))

NAMED_KERNELS = MappingProxyType({
    "sobel_x": _SOBEL_X,
    "sobel_vertical": _SOBEL_X,
    "sobel_y": _SOBEL_Y,
    "sobel_horizontal": _SOBEL_Y,
    "scharr_x": ((-3, 0, 3), (-10, 0, 10), (-3, 0, 3)),
    "scharr_y": ((-3, -10, -3), (0, 0, 0), (3, 10, 3)),
    "gaussian3": _scaled(Fraction(1, 16), ((1, 2, 1), (2, 4, 2), (1, 2, 1))),
    "gaussian5": _scaled(Fraction(1, 256), _BINOMIAL_5),  # walkthroughs.yaml gaussian_5x5_times_256
    "mean3": _scaled(Fraction(1, 9), ((1, 1, 1),) * 3),
    "sharpen": ((0, -1, 0), (-1, 5, -1), (0, -1, 0)),
    "laplacian": ((0, 1, 0), (1, -4, 1), (0, 1, 0)),
    "vertical_edge": ((1, 0, -1),) * 3,  # walkthroughs.yaml numeric_examples
    "horizontal_edge": ((1, 1, 1), (0, 0, 0), (-1, -1, -1)),
})

_KERNEL_NAME = re.compile(r"[A-Za-z_][\w-]*")


def named_kernel(name: str) -> Matrix:
    """The kernel called ``name`` in ``NAMED_KERNELS``; case and ``-`` versus ``_`` do not matter."""
    key = name.strip().lower().replace("-", "_")
    if key in NAMED_KERNELS:
        return NAMED_KERNELS[key]
    close = difflib.get_close_matches(key, NAMED_KERNELS, n=3)
    raise UsageError(
        "apply-unknown-kernel",
        f"unknown kernel {name!r}; the named kernels are {', '.join(sorted(NAMED_KERNELS))}",
        hint=f"did you mean {' or '.join(close)}?" if close else None,
    )


def resolve_kernel(text: str) -> Array:
    """A kernel given as a name (``sobel_x``) or as a matrix that ``parse_array`` reads."""
    stripped = text.strip()
    if _KERNEL_NAME.fullmatch(stripped):
        return named_kernel(stripped)
    return parse_array(stripped, "kernel")


def _shape(matrix: Matrix) -> tuple[int, int]:
    return len(matrix), len(matrix[0])


def _size_text(matrix: Matrix) -> str:
    height, width = _shape(matrix)
    return f"{height}x{width}"
