"""Tables that fit the terminal and never cut a number.

Every terminal table of convcalc is laid out here. Given the console's width, :func:`fit` tries,
in this order, and stops at the first layout that fits:

1. every column, counts exact (``24,243,590,144``);
2. counts in compact units (``24.24G``: two decimals, rounded half to even from the exact value,
   :func:`compact_count`); the exact values stay in JSON and CSV;
3. columns dropped one at a time in the command's documented priority order (the column with the
   highest ``drop`` rank first), the layer column never;
4. with only the undroppable columns left, layer names abbreviated from the left (``…ownsample``).

Layer names longer than :data:`LABEL_FLOOR` are abbreviated from the left before a column is
dropped for them; formulas (symbolic sizes) wider than :data:`WRAP_FLOOR` are broken across lines
at ``*``, ``,`` and ``+``, never inside a term; free text (a model's description) is cut at the right with ``…``. Whatever was
changed is said in one note under the table (:meth:`Fitted.note`), with the option that shows it
all. A width of ``None`` (a file, a pipe, ``--wide``) lays every column out in full.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Optional, Sequence

__all__ = [
    "ELLIPSIS",
    "GAP",
    "LABEL_FLOOR",
    "UNBOUNDED",
    "Column",
    "Fitted",
    "abbreviate",
    "compact_count",
    "fit",
    "pretty_formula",
    "print_table",
    "print_wrapped",
    "table_width",
    "width_of",
    "with_compact",
    "wrap_formula",
    "wrap_words",
]

GAP = 2  # spaces between two columns
LABEL_FLOOR = 16  # a layer name is abbreviated to this before a column is dropped for it
CLIP_FLOOR = 12  # free text keeps at least this much before its column is dropped
WRAP_FLOOR = 24  # a formula keeps at least this much (or its longest term) before a column is dropped
ELLIPSIS = "…"
UNBOUNDED = 100_000  # a console this wide (a file, a pipe) is not fitted: every column in full
_UNITS = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))


def width_of(console) -> Optional[int]:
    """The width to fit to, or ``None`` for a console that has none (a file, a pipe)."""
    return None if console.width >= UNBOUNDED else console.width


def compact_count(n: int) -> str:
    """``12080353536`` -> ``12.08G``: two decimals in the largest unit below the value, rounded
    half to even from the exact integer (no float in between); below 1,000 the number itself."""
    for i, (scale, suffix) in enumerate(_UNITS):
        if abs(n) >= scale:
            hundredths = _round_half_even(abs(n) * 100, scale)
            if hundredths >= 100_000 and i > 0:  # 999.996K is 1.00M, not 1000.00K
                scale, suffix = _UNITS[i - 1]
                hundredths = _round_half_even(abs(n) * 100, scale)
            sign = "-" if n < 0 else ""
            return f"{sign}{hundredths // 100}.{hundredths % 100:02d}{suffix}"
    return str(n)


def _round_half_even(a: int, b: int) -> int:
    """``round(Fraction(a, b))`` for ``a >= 0``, ``b > 0``, in integers."""
    q, r = divmod(a, b)
    return q + 1 if 2 * r > b or (2 * r == b and q % 2) else q


def pretty_formula(text: str) -> str:
    """``ceiling(H/32)`` -> ``⌈H/32⌉`` and ``floor(x)`` -> ``⌊x⌋``: the same formula, shorter."""
    for name, left, right in (("ceiling", "⌈", "⌉"), ("floor", "⌊", "⌋")):
        while (start := text.find(name + "(")) >= 0:
            depth, i = 0, start + len(name)
            for i in range(start + len(name), len(text)):
                depth += {"(": 1, ")": -1}.get(text[i], 0)
                if depth == 0:
                    break
            text = text[:start] + left + text[start + len(name) + 1 : i] + right + text[i + 1 :]
    return text


def abbreviate(text: str, width: int) -> str:
    """A (possibly indented) name cut from the left to ``width``: ``  …nsample``."""
    if len(text) <= width:
        return text
    name = text.lstrip(" ")
    indent = " " * min(len(text) - len(name), max(0, width - 2))
    keep = max(1, width - len(indent) - 1)
    return indent + ELLIPSIS + name[-keep:]


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)].rstrip() + ELLIPSIS


_BREAK = re.compile(r"(?<=\*)|(?<=, )|(?= [+-] )")


def _terms(text: str) -> list[str]:
    return [piece for piece in _BREAK.split(text) if piece]


def _pack(pieces: list[str], width: int, first: Optional[int]) -> list[str]:
    lines: list[str] = []
    line = ""
    for piece in pieces:
        room = width if lines or first is None else first
        if line and len(line) + len(piece) > room:
            lines.append(line.rstrip())
            piece = piece.lstrip()
            line = ""
        line += piece
    return [*lines, line.rstrip()]


def wrap_formula(text: str, width: int, first: Optional[int] = None) -> list[str]:
    """Lines of at most ``width`` characters (``first`` for the first one): broken before `` + ``
    or `` - `` where that is enough, else also after ``*`` or ``, ``; a term is never cut."""
    additive = [piece for piece in re.split(r"(?= [+-] )", text) if piece]
    lines = _pack(additive, width, first)
    limit = lambda i: width if i or first is None else first  # noqa: E731
    if all(len(line) <= limit(i) for i, line in enumerate(lines)):
        return lines
    return _pack(_terms(text), width, first)


@dataclass(frozen=True)
class Column:
    """One column: its cells written exactly, and, for counts, in compact units."""

    key: str  # its name in --columns
    header: str
    cells: tuple[str, ...]
    footer: Optional[str] = None
    compact: Optional[tuple[str, ...]] = None  # the cells in K/M/G (counts)
    compact_footer: Optional[str] = None
    right: bool = False
    drop: int = 0  # 0: never dropped; the highest rank is dropped first
    label: bool = False  # names: abbreviated from the left
    wrap: bool = False  # formulas: broken across lines
    clip: bool = False  # free text: cut at the right
    style: Optional[str] = None

    def texts(self, compact: bool) -> tuple[tuple[str, ...], Optional[str]]:
        if compact and self.compact is not None:
            return self.compact, self.compact_footer if self.compact_footer is not None else self.footer
        return self.cells, self.footer

    def natural(self, compact: bool) -> int:
        cells, footer = self.texts(compact)
        return max(len(self.header), len(footer or ""), *(len(c) for c in cells)) if cells else len(self.header)

    def least(self, compact: bool) -> int:
        """The narrowest this column may be."""
        natural = self.natural(compact)
        if self.label:
            return min(natural, LABEL_FLOOR)
        if self.clip:
            return min(natural, max(CLIP_FLOOR, len(self.header)))
        if self.wrap:
            cells, footer = self.texts(compact)
            longest_term = max(len(self.header), *(len(t) for c in (*cells, footer or "") for t in _terms(c) or [""]))
            return max(longest_term, min(natural, WRAP_FLOOR))
        return natural


@dataclass(frozen=True)
class Fitted:
    """The columns kept, their widths, and what was changed to fit."""

    columns: tuple[Column, ...]
    widths: tuple[int, ...]
    compact: bool
    dropped: tuple[Column, ...]
    width: Optional[int]

    @property
    def total(self) -> int:
        return table_width(self.widths)

    def cell_lines(self, c: int, text: str) -> list[str]:
        column, width = self.columns[c], self.widths[c]
        if column.label:
            return [abbreviate(text, width)]
        if column.clip:
            return [_clip(text, width)]
        if column.wrap and len(text) > width:
            return wrap_formula(text, width)
        return [text]

    def rows(self) -> list[list[list[str]]]:
        """Per row, per column, the lines of the cell."""
        count = len(self.columns[0].cells) if self.columns else 0
        texts = [column.texts(self.compact)[0] for column in self.columns]
        return [[self.cell_lines(c, texts[c][r]) for c in range(len(self.columns))] for r in range(count)]

    @property
    def shortened(self) -> int:
        """Cells abbreviated or cut (names, descriptions)."""
        count = 0
        for column, width in zip(self.columns, self.widths):
            if column.label or column.clip:
                count += sum(len(cell) > width for cell in column.texts(self.compact)[0])
        return count

    def note(self, wide: str = "--wide", columns: str = "", exact: str = "--format json or csv") -> str:
        """What was changed to fit, and how to see it all; empty when nothing was."""
        if self.width is None:
            return ""
        parts = []
        if self.compact:
            parts.append(f"counts rounded to K/M/G units (exact: {wide} or {exact})")
        if self.dropped:
            names = ", ".join(column.header for column in self.dropped)
            how = f"{columns} to choose, {wide} for all" if columns else wide
            parts.append(f"not shown: {names} ({how})")
        if self.shortened:
            what = "names" if any(c.label for c in self.columns) else "texts"
            parts.append(f"{self.shortened} {what} shortened with {ELLIPSIS}")
        return f"fitted to {self.width} columns: " + "; ".join(parts) if parts else ""


def table_width(widths: Sequence[int]) -> int:
    return sum(widths) + GAP * max(0, len(widths) - 1)


def _squeeze(columns: Sequence[Column], width: int, compact: bool, floor: bool) -> Optional[tuple[int, ...]]:
    """Widths that fit ``width``, flexible columns narrowed as far as they may; ``floor``
    lets a name go below :data:`LABEL_FLOOR`."""
    least = [1 if floor and c.label else c.least(compact) for c in columns]
    if table_width(least) > width:
        return None
    widths = list(least)
    spare = width - table_width(widths)
    for flexible in ("label", "wrap", "clip"):
        for i, column in enumerate(columns):
            if getattr(column, flexible):
                grow = min(spare, column.natural(compact) - widths[i])
                widths[i] += grow
                spare -= grow
    return tuple(widths)


def fit(columns: Sequence[Column], width: Optional[int], compact_only: bool = False) -> Fitted:
    """The first layout of this module's docstring that fits ``width`` (``None``: no limit);
    ``compact_only`` skips the exact one (a table split in several keeps one style)."""
    columns = tuple(columns)
    if width is None:
        return Fitted(columns, tuple(c.natural(False) for c in columns), False, (), None)
    for compact in (False, True)[compact_only:]:
        if compact and not any(c.compact is not None for c in columns):
            continue
        natural = tuple(c.natural(compact) for c in columns)
        if table_width(natural) <= width:
            return Fitted(columns, natural, compact, (), width)
    compact = any(c.compact is not None for c in columns)
    kept = list(columns)
    dropped: list[Column] = []
    for victim in sorted((c for c in columns if c.drop), key=lambda c: -c.drop):
        widths = _squeeze(kept, width, compact, floor=False)
        if widths is not None:
            return Fitted(tuple(kept), widths, compact, tuple(dropped), width)
        kept.remove(victim)
        dropped.append(victim)
    widths = _squeeze(kept, width, compact, floor=False) or _squeeze(kept, width, compact, floor=True)
    if widths is None:  # narrower than the undroppable columns can be: give them their least
        widths = tuple(1 if c.label else c.least(compact) for c in kept)
    return Fitted(tuple(kept), widths, compact, tuple(dropped), width)


def _line(fitted: Fitted, cells: Sequence[str]) -> str:
    parts = []
    for column, width, text in zip(fitted.columns, fitted.widths, cells):
        parts.append(text.rjust(width) if column.right else text.ljust(width))
    return (" " * GAP).join(parts).rstrip()


def _styled(fitted: Fitted, cells: Sequence[str], style: Optional[str]):
    from rich.text import Text

    line = Text(style=style or "")
    for i, (column, width, text) in enumerate(zip(fitted.columns, fitted.widths, cells)):
        if i:
            line.append(" " * GAP)
        line.append(text.rjust(width) if column.right else text.ljust(width), style=column.style or "")
    line.rstrip()
    return line


def print_table(
    console,
    fitted: Fitted,
    title: Optional[str] = None,
    row_styles: Iterable[Optional[str]] = (),
    show_footer: bool = False,
) -> None:
    """The table, line by line, never wrapped or cropped by the console (it already fits).

    A console without colours that does not record (a file, a pipe) prints a plain line as it
    is: its lines are written straight to its file, as rich would write them (thousands of
    rows cost what their text costs). A line with a tab or a control character goes to rich."""
    from rich.text import Text

    def out(text: Any) -> None:
        console.print(text, soft_wrap=True, highlight=False)

    if console.color_system is None and not console.record and not console.is_jupyter:
        plain_rows(console, fitted, title, show_footer, out)
        return

    if title:
        out(Text(title))
        out(Text(""))
    out(Text(_line(fitted, [c.header for c in fitted.columns]), style="bold"))
    rule = "─" * fitted.total
    out(Text(rule, style="dim"))
    styles = list(row_styles)
    for r, cells in enumerate(fitted.rows()):
        height = max(len(lines) for lines in cells)
        for k in range(height):
            out(_styled(fitted, [lines[k] if k < len(lines) else "" for lines in cells], styles[r] if r < len(styles) else None))
    if show_footer:
        footers = [column.texts(fitted.compact)[1] or "" for column in fitted.columns]
        footers = [abbreviate(text, w) if c.label else text for c, w, text in zip(fitted.columns, fitted.widths, footers)]
        out(Text(rule, style="dim"))
        out(Text(_line(fitted, footers), style="bold"))


def plain_rows(console, fitted: Fitted, title: Optional[str], show_footer: bool, out: Callable[[Any], None]) -> None:
    """:func:`print_table`'s lines as plain text on a console that adds no styles."""
    from rich.text import Text

    file = console.file
    lines: list[str] = []

    def flush() -> None:
        if lines:
            file.write("".join(lines))
            lines.clear()

    def line(text: str) -> None:
        if text.isprintable():
            lines.append(text + "\n")
        else:
            flush()
            out(Text(text))

    if title:
        line(title)
        line("")
    line(_line(fitted, [c.header for c in fitted.columns]))
    rule = "─" * fitted.total
    line(rule)
    columns = [column.texts(fitted.compact)[0] for column in fitted.columns]
    if all(len(text) <= width for cells, width in zip(columns, fitted.widths) for text in cells):
        # every cell on one line as it is (nothing cut, abbreviated or broken): padded column by
        # column, joined row by row (10,000 rows cost what their text costs)
        padded = [[text.rjust(width) for text in cells] if column.right else [text.ljust(width) for text in cells]
                  for column, width, cells in zip(fitted.columns, fitted.widths, columns)]
        gap = " " * GAP
        for parts in zip(*padded):
            line(gap.join(parts).rstrip())
            if len(lines) >= 4096:
                flush()
    else:
        for cells in fitted.rows():
            height = max(len(texts) for texts in cells)
            for k in range(height):
                line(_line(fitted, [texts[k] if k < len(texts) else "" for texts in cells]))
            if len(lines) >= 4096:
                flush()
    if show_footer:
        footers = [column.texts(fitted.compact)[1] or "" for column in fitted.columns]
        footers = [abbreviate(text, w) if c.label else text for c, w, text in zip(fitted.columns, fitted.widths, footers)]
        line(rule)
        line(_line(fitted, footers))
    flush()
    file.flush()


def wrap_words(text: str, width: Optional[int], indent: str = "", hanging: str = "    ") -> list[str]:
    """``indent + text`` broken at spaces to ``width`` (``None``: one line), continuation lines
    indented by ``hanging`` more, before an `` = `` where that is enough (a derivation); a word (a
    number, a formula without spaces) is never cut unless
    it is longer than the whole line (an inline spec), which is broken at the width."""
    import textwrap

    if width is None or len(indent) + len(text) <= width:
        return [indent + text]
    if " = " in text:  # a derivation reads best broken before its equals signs
        steps = _pack(re.split(r"(?= = )", text), width - len(indent) - len(hanging), first=width - len(indent))
        if all(len(step) <= (width - len(indent) - (len(hanging) if i else 0)) for i, step in enumerate(steps)):
            return [indent + (hanging if i else "") + step for i, step in enumerate(steps)]
    return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent + hanging,
                         break_long_words=True, break_on_hyphens=False) or [indent]


def print_wrapped(console, text: str, indent: str = "", hanging: str = "    ", style: Optional[str] = None) -> None:
    """:func:`wrap_words` to the console's width, printed as plain text (no markup)."""
    for line in wrap_words(text, width_of(console), indent, hanging):
        console.print(line, soft_wrap=True, markup=False, highlight=False, style=style)


def with_compact(column: Column, values: Sequence[Any], footer: Any = None) -> Column:
    """``column`` with its compact cells: integer counts in K/M/G, anything else as it is."""
    known: dict[int, str] = {}  # rows repeat their counts
    compact = []
    for v, cell in zip(values, column.cells):
        if type(v) is int:
            text = known.get(v)
            if text is None:
                text = known[v] = compact_count(v)
            compact.append(text)
        else:
            compact.append(compact_count(v) if isinstance(v, int) else cell)
    compact = tuple(compact)
    compact_footer = compact_count(footer) if isinstance(footer, int) else column.footer
    return replace(column, compact=compact, compact_footer=compact_footer)
