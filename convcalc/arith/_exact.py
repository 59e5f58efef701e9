"""When a strided window tiles its input exactly: the rule ``convcalc sizes`` and ``solve`` share.

Plain integer arithmetic, no pydantic: ``convcalc solve`` imports it without the layer models.
"""

from __future__ import annotations

__all__ = ["off_centre_notes", "uneven_notes"]


def uneven_notes(spatial: tuple, kernel: tuple, stride: tuple, dilation: tuple, pads: tuple, names: tuple) -> tuple[str, ...]:
    """Notes for the axes a strided window does not tile exactly (``convcalc sizes`` reads them).

    With 'same'-style padding (``p_before + p_after == d*(k-1)``) exact means ``in`` is a multiple
    of the stride, so that the output is ``in / s``; otherwise (e.g. valid padding) it means the
    windows end on the last row: ``(in + p_before + p_after - d*(k-1) - 1) % s == 0``.
    """
    notes = []
    for size, k, s, d, (before, after), name in zip(spatial, kernel, stride, dilation, pads, names):
        if s == 1 or not isinstance(size, int) or not isinstance(before, int):
            continue
        reach = d * (k - 1)
        if before + after == reach:
            if size % s:
                notes.append(f"uneven: {name} = {size} is not a multiple of the stride {s}")
        elif (size + before + after - reach - 1) % s:
            left = (size + before + after - reach - 1) % s
            notes.append(f"uneven: along {name} the last {left} row(s) of the padded input {size} are not covered by a stride-{s} window")
    return tuple(notes)


def off_centre_notes(spatial: tuple, target: tuple, names: tuple) -> tuple[str, ...]:
    return tuple(
        f"off-centre: cropping {name} from {size} to {want} leaves an odd margin"
        for size, want, name in zip(spatial, target, names)
        if isinstance(size, int) and isinstance(want, int) and (size - want) % 2
    )
