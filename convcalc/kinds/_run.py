"""One inference step, the same for the graph builder and the engine: a layer on its inputs, with
the bounds that keep sizes and formulas finite.

``run(layer, xs, symbolic)`` returns the layer's :class:`Result` (a receptive field it leaves
unchanged filled in from its first input) and, on the symbolic path, the
``size >= 1`` conditions its sizes depend on. Growth past the bounds is a :class:`LayerError`
(``limit-int``, ``limit-expression``): repeated upsampling or striding can grow a size or a
receptive field's jump without end, and Python would print neither past 4,300 digits.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from fractions import Fraction
from typing import Any, Sequence

from convcalc.arith.dims import MAX_INT, collect_conditions
from convcalc.errors import LayerError
from convcalc.kinds._base import LayerKind, Result, Tensor

__all__ = ["MAX_RF_BITS", "batch_running", "rf_within_bounds", "run", "running_batch", "tensor_of", "with_field"]

MAX_RF_BITS = 1024  # a receptive field's jump (an int or a Fraction): it bounds size and start
_RF_LIMIT = 1 << MAX_RF_BITS


_BATCH: ContextVar[Any] = ContextVar("convcalc_batch", default=1)


@contextmanager
def running_batch(batch: Any):
    """The batch the network runs with, for the one rule that counts it (group norm's): the
    builder and the engine set it around the fold; a kind on its own runs one sample."""
    token = _BATCH.set(batch)
    try:
        yield
    finally:
        _BATCH.reset(token)


def batch_running() -> Any:
    """The batch set by :func:`running_batch` (1 outside it)."""
    return _BATCH.get()


def run(layer: LayerKind, xs: Sequence[Tensor], symbolic: bool, refs: Sequence[Tensor] = ()) -> tuple[Result, tuple]:
    """``refs`` are tensors the layer reads the shapes of, not the values (a crop to their size)."""
    if symbolic:
        with collect_conditions() as conditions:
            result = _infer(layer, xs, refs)
        _check_sizes(result)
        return _filled(result, xs, refs), tuple(conditions)
    result = _infer(layer, xs, refs)
    if _too_large(result.shape) or any(_too_large(shape) for shape in result.more) or (result.rf and not rf_within_bounds(result.rf)):
        _refuse_growth(result)
    return _filled(result, xs, refs), ()


def _filled(result: Result, xs: Sequence[Tensor], refs: Sequence[Tensor]) -> Result:
    """The receptive field and globality a kind leaves unchanged (None) are its first input's."""
    if result.rf is not None and result.is_global is not None:
        return result
    x0 = xs[0] if xs else refs[0]
    return with_field(result, x0.rf if result.rf is None else result.rf, x0.is_global if result.is_global is None else result.is_global)


def with_field(result: Result, rf: Any, is_global: Any) -> Result:
    """``result`` with another receptive field and globality: a copy as ``dataclasses.replace``
    makes it, at a tenth of its cost (its ``__dict__`` a copy of the other's, set as a whole:
    the class is frozen, so through ``object.__setattr__``)."""
    copy = object.__new__(Result)
    fields = result.__dict__.copy()
    fields["rf"], fields["is_global"] = rf, is_global
    _set(copy, "__dict__", fields)
    return copy


_set = object.__setattr__


def tensor_of(shape: tuple, rf: Any, is_global: bool, source: int, port: int, siblings: int) -> Tensor:
    """``Tensor(shape, rf, is_global, source, port, siblings)``, made as :func:`with_field` makes
    a result (the memo's refold makes one per copied node)."""
    tensor = object.__new__(Tensor)
    tensor.__dict__.update(shape=shape, rf=rf, is_global=is_global, source=source, port=port, siblings=siblings)
    return tensor


def _infer(layer: LayerKind, xs: Sequence[Tensor], refs: Sequence[Tensor]) -> Result:
    if refs:
        return layer.infer_refs(xs[0] if xs else None, list(refs))
    if len(xs) > 1 or type(layer).infer_many is not None:
        return layer.infer_many(list(xs))
    return layer.infer(xs[0])


def _too_large(shape) -> bool:
    return any(isinstance(d, int) and d > MAX_INT for d in shape)


def rf_within_bounds(rf) -> bool:
    """The jumps bound the rest: sizes and starts add (k-1)*jump per layer, and their
    denominators divide those of the jumps."""
    for axis in rf:
        jump = axis.jump
        if type(jump) is int:
            if jump >= _RF_LIMIT:
                return False
        elif jump is None:  # a field not known has no jump to bound
            continue
        elif jump.numerator >= _RF_LIMIT or jump.denominator >= _RF_LIMIT:
            return False
    return True


def _refuse_growth(result: Result) -> None:
    """Integer sizes: one past MAX_INT, or a receptive field past MAX_RF_BITS."""
    for shape in (result.shape, *result.more):
        for d in shape:
            if isinstance(d, int) and d > MAX_INT:
                raise LayerError("limit-int", f"a size grew to a {d.bit_length()}-bit number, past 2**48 (limit MAX_INT)")
    raise LayerError(
        "limit-int", f"the receptive field's jump needs more than {MAX_RF_BITS} bits (limit MAX_RF_BITS): the strides and rescalings before this layer multiply without end",
    )


def _check_sizes(result: Result) -> None:
    """Every symbolic number of a result within the bounds of ``check_size``, its integer sizes
    and fractions within those of ``_refuse_growth``."""
    from convcalc.arith._symbolic import check_size

    if _too_large(result.shape) or any(_too_large(shape) for shape in result.more) or not rf_within_bounds(
        [a for a in result.rf or () if isinstance(a.jump, (int, Fraction))]
    ):
        _refuse_growth(result)
    values: list[Any] = [*result.shape, *(d for shape in result.more for d in shape), result.params, result.macs, result.flops]
    values += [x for a in result.rf or () for x in (a.size, a.jump, a.start)]
    for value in values:
        if value is not None and not isinstance(value, (int, Fraction)):
            check_size(value, count=True)
