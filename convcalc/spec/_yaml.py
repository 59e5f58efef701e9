"""Read YAML safely and remember where every node came from.

We read PyYAML's event stream (libyaml's C parser when it is installed, PyYAML's own otherwise)
and build plain Python values from it in one pass, with an explicit stack, so that we can
(a) record the 1-based line and column of every key and value, (b) refuse duplicate keys and any
explicit tag that is not a plain YAML type (``!!python/object`` and friends), and (c) enforce every
bound before the work it protects: the file size before parsing, the nesting depth and the number
of values as the events arrive, and an alias's size before it is copied, so that a billion-laughs
file is refused at its first oversized alias, never expanded.

Limits (each refusal names its limit):

- ``MAX_FILE_BYTES``: 10 MB of text (``limit-file-size``);
- ``MAX_NODES``: 200,000 values, counting every expansion of an alias (``limit-yaml-nodes``);
- ``MAX_DEPTH``: 64 levels of nested mappings and lists (``limit-yaml-depth``). Flow collections
  (``[[[...]]]``) are counted in the text before any parser sees it: a YAML scanner reads a whole
  flow collection ahead before it emits its first event, and libyaml's own nesting limit (1,000
  levels in PyYAML's wheels from 6.0.4) would fire before ours. So the limit holds, with the same
  code and message, with libyaml or PyYAML's pure-Python parser (``CONVCALC_YAML=pure`` forces the
  latter; the limit tests run both ways);
- ``MAX_INT``: integers up to 2**48, written in at most ``MAX_INT_CHARS`` characters (``limit-int``).

Numbers mean what they say in YAML 1.2 (and JSON), not what YAML 1.1 made of them: a plain
``010`` (octal 8 in YAML 1.1) and ``1:0`` (base 60: 60) are refused where they are
(``yaml-octal``, ``yaml-base60``); ``1e-5`` (a string in YAML 1.1) is a float; ``.nan`` and
``.inf`` are refused (``spec-number``): no size, scale or epsilon is infinite or not a number.
"""

from __future__ import annotations

import copy
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Optional

import yaml
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    MappingStartEvent,
    ScalarEvent,
)
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from convcalc.errors import Position, SpecError
from convcalc.spec._source import MAX_DEPTH, MAX_FILE_BYTES, MAX_INT, MAX_INT_CHARS, MAX_NODES, Path, Source

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_INT", "MAX_INT_CHARS", "MAX_NODES", "Source", "load_yaml"]


def _loader():
    """libyaml's parser when the wheel has it, unless ``CONVCALC_YAML=pure`` asks for PyYAML's own."""
    if os.environ.get("CONVCALC_YAML") == "pure":
        return yaml.SafeLoader
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = {f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq")}
_MERGE_TAG = f"{_TAG}merge"
# What YAML 1.1 forbids in a stream (PyYAML's reader rule), checked here to report a position.
# What can open or close a flow collection, or hide a bracket: quoted scalars and comments.
_FLOW_TOKENS = re.compile(r"""[\[\]{}]|"(?:[^"\\]|\\.)*"?|'(?:[^']|'')*'?|(?:(?<=\s)|^)#[^\n]*""", re.MULTILINE)
_OCTAL = re.compile(r"[-+]?0[0-7_]+")  # YAML 1.1's octal ints: 010 is 8
_EXPONENT = re.compile(r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+")  # YAML 1.2 floats 1.1 reads as text
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

class _Merge:
    """Stands for a ``<<`` key in a path while its value is read (a path no lookup asks for)."""

    def __repr__(self) -> str:
        return "<<"


_MERGE = _Merge()
_NO_KEY = object()

# A recorded position: (path, (line, col), is_key). The log of them lets an anchor replay its
# positions under every path an alias copies it to.
_Entry = tuple[Path, tuple[int, int], bool]


@dataclass
class _Anchor:
    """An anchored node, kept for the aliases that copy it."""

    value: Any
    entries: list[_Entry]  # paths relative to the anchored node
    size: int  # values in the subtree
    height: int  # nesting levels below the anchored node


@dataclass
class _Frame:
    """An open mapping or list."""

    value: Any
    path: Path
    depth: int
    anchor: Optional[str]
    log_start: int
    count_start: int
    key: Any = _NO_KEY  # a mapping's key waiting for its value
    merge_start: int = 0  # log position where the value of a ``<<`` key starts
    merges: list[tuple[Any, list[_Entry]]] = field(default_factory=list)


class _Builder:
    def __init__(self, source: Source):
        self.source = source
        self.count = 0
        self.log: list[_Entry] = []
        self.anchors: dict[str, _Anchor] = {}
        self.stack: list[_Frame] = []
        self._safe = yaml.SafeLoader("")  # for its resolver and scalar constructors only
        # (tag, style, implicit, text) -> the value read: a spec says `3`, `conv2d`, `false` and
        # its keys over and over; only values read without an error are kept
        self.scalars: dict[tuple, Any] = {}

    # -- errors and positions -------------------------------------------------------------------
    def error(self, event: Event, code: str, message: str, hint: str | None = None) -> SpecError:
        mark = event.start_mark
        return SpecError(code, message, Position(self.source.file, mark.line + 1, mark.column + 1), hint)

    def record(self, path: Path, where: tuple[int, int], is_key: bool = False) -> None:
        (self.source.keys if is_key else self.source.values)[path] = where
        self.log.append((path, where, is_key))

    # -- the event loop ---------------------------------------------------------------------------
    def run(self, events) -> Any:
        root: Any = None
        documents = 0
        for event in events:
            if isinstance(event, DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise self.error(event, "yaml-syntax", "a second YAML document in one file", "a spec is a single document: remove the `---`")
            elif isinstance(event, (ScalarEvent, AliasEvent, CollectionStartEvent)):
                if self.stack and isinstance(self.stack[-1].value, dict) and self.stack[-1].key is _NO_KEY:
                    self.key(event, self.stack[-1])
                    continue
                done, value = self.node(event)
                if done:
                    root = self.attach(value, root)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                root = self.attach(self.close(self.stack.pop()), root)
        return root

    def slot(self) -> tuple[Path, int]:
        """Path and depth of the next value."""
        if not self.stack:
            return (), 0
        top = self.stack[-1]
        if isinstance(top.value, list):
            return (*top.path, len(top.value)), top.depth + 1
        return (*top.path, top.key), top.depth + 1

    def attach(self, value: Any, root: Any) -> Any:
        """Put a finished value into the open collection; return the document's root."""
        if not self.stack:
            return value
        top = self.stack[-1]
        if isinstance(top.value, list):
            top.value.append(value)
        elif top.key is _MERGE:
            top.merges.append((value, self.log[top.merge_start:]))
            top.key = _NO_KEY
        else:
            top.value[top.key] = value
            top.key = _NO_KEY
        return root

    # -- nodes ------------------------------------------------------------------------------------
    def node(self, event: Event) -> tuple[bool, Any]:
        """Read a value event. Returns (True, value) for a finished value, (False, None) when a
        collection was opened."""
        path, depth = self.slot()
        where = (event.start_mark.line + 1, event.start_mark.column + 1)
        if isinstance(event, AliasEvent):
            return True, self.alias(event, path, depth, where)
        if depth > MAX_DEPTH:
            raise self.error(event, "limit-yaml-depth", f"nesting deeper than {MAX_DEPTH} levels (limit MAX_DEPTH)")
        self.count += 1
        if self.count > MAX_NODES:
            raise self.error(event, "limit-yaml-nodes", f"the document has more than {MAX_NODES:,} values (limit MAX_NODES)")
        anchor = event.anchor
        if anchor is not None and anchor in self.anchors:
            raise self.error(event, "yaml-anchor", f"anchor &{anchor} is defined twice", "give each anchor its own name")
        self.record(path, where)
        if isinstance(event, ScalarEvent):
            value = self.scalar(event)
            if anchor is not None:
                self.anchors[anchor] = _Anchor(value, [((), where, False)], 1, 0)
            return True, value
        kind = MappingNode if isinstance(event, MappingStartEvent) else SequenceNode
        self.check_tag(event, kind)
        container: Any = {} if kind is MappingNode else []
        self.stack.append(_Frame(container, path, depth, anchor, len(self.log) - 1, self.count - 1))
        return False, None

    def key(self, event: Event, top: _Frame) -> None:
        if not isinstance(event, ScalarEvent):
            raise self.error(event, "yaml-key", "mapping keys must be plain strings")
        key = self.scalars.get((event.tag, event.style, event.implicit, event.value), _NO_KEY)
        if key is _NO_KEY:
            if self.resolve(event, ScalarNode) == _MERGE_TAG:
                if top.merges:
                    raise self.error(event, "yaml-duplicate-key", "duplicate merge key '<<'", "list several mappings in one `<<: [*a, *b]`")
                top.key = _MERGE
                top.merge_start = len(self.log)
                return
            key = self.scalar(event)
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            key = str(event.value)
        if key in top.value:
            first = self.source.keys[(*top.path, key)]
            raise self.error(event, "yaml-duplicate-key", f"duplicate key {key!r} (first defined at line {first[0]})")
        self.record((*top.path, key), (event.start_mark.line + 1, event.start_mark.column + 1), is_key=True)
        top.key = key

    def close(self, frame: _Frame) -> Any:
        value = frame.value
        if frame.merges:
            value = self.merge(frame)
        if frame.anchor is not None:
            entries = [(path[len(frame.path):], where, is_key) for path, where, is_key in self.log[frame.log_start:]]
            height = max(len(path) for path, _, _ in entries)
            self.anchors[frame.anchor] = _Anchor(value, entries, self.count - frame.count_start, height)
        return value

    def merge(self, frame: _Frame) -> dict:
        """YAML's merge key: ``<<: *base`` (or a list of them) supplies the keys the mapping does not
        set itself; in a list, an earlier mapping wins (PyYAML's rule)."""
        merged: dict[Any, Any] = {}
        base = (*frame.path, _MERGE)
        for value, entries in frame.merges:
            sources = [((*base, i), item) for i, item in enumerate(value)] if isinstance(value, list) else [(base, value)]
            for prefix, mapping in sources:
                if not isinstance(mapping, dict):
                    line, col = self.source.values.get(prefix, (1, 1))
                    raise SpecError("yaml-merge", "`<<` merges a mapping or a list of mappings", Position(self.source.file, line, col))
                for key, item in mapping.items():
                    if key in frame.value or key in merged:
                        continue
                    merged[key] = item
                    for path, where, is_key in entries:
                        if path[: len(prefix) + 1] == (*prefix, key):
                            self.record((*frame.path, *path[len(prefix):]), where, is_key)
        return {**merged, **frame.value}

    def alias(self, event: AliasEvent, path: Path, depth: int, where: tuple[int, int]) -> Any:
        name = event.anchor
        anchor = self.anchors.get(name)
        if anchor is None:
            if any(frame.anchor == name for frame in self.stack):
                raise self.error(event, "yaml-alias", f"alias *{name} refers to a collection that contains it")
            raise self.error(event, "yaml-alias", f"alias *{name} has no anchor &{name} before it")
        if depth + anchor.height > MAX_DEPTH:
            raise self.error(event, "limit-yaml-depth", f"alias *{name} nests deeper than {MAX_DEPTH} levels (limit MAX_DEPTH)")
        if self.count + anchor.size > MAX_NODES:
            raise self.error(
                event, "limit-yaml-nodes",
                f"alias *{name} would expand the document past {MAX_NODES:,} values (limit MAX_NODES)",
                "aliases that refer to aliases multiply; write the values out",
            )
        self.count += anchor.size
        for rel, at, is_key in anchor.entries:
            self.record((*path, *rel), where if not rel else at, is_key)
        return copy.deepcopy(anchor.value)

    # -- tags and scalars -------------------------------------------------------------------------
    def resolve(self, event: Event, kind: type) -> str:
        """The event's tag. An implicit one that is not a plain type (a date, ``=``) reads as a
        string: the writer asked for nothing special. An explicit one is taken at its word."""
        if event.tag is not None and event.tag != "!":
            return event.tag
        value = event.value if kind is ScalarNode else None
        implicit = event.implicit if kind is ScalarNode else True
        tag = self._safe.resolve(kind, value, implicit)
        if tag in _PLAIN_TAGS or tag == _MERGE_TAG:
            return tag
        return f"{_TAG}str"

    def check_tag(self, event: Event, kind: type) -> str:
        tag = self.resolve(event, kind)
        if tag not in _PLAIN_TAGS:
            raise self.error(
                event, "yaml-tag", f"tag {tag!r} is not allowed",
                "specs are plain YAML: mappings, lists, strings, numbers, booleans",
            )
        return tag

    def scalar(self, event: ScalarEvent) -> Any:
        seen = (event.tag, event.style, event.implicit, event.value)
        value = self.scalars.get(seen, _NO_KEY)
        if value is _NO_KEY:
            value = self.scalars[seen] = self._read_scalar(event)
        return value

    def _read_scalar(self, event: ScalarEvent) -> Any:
        tag = self.check_tag(event, ScalarNode)
        text = event.value
        if tag == f"{_TAG}int" and len(text) > MAX_INT_CHARS:
            raise self.error(event, "limit-int", f"integer literal of {len(text):,} characters, more than {MAX_INT_CHARS} (limit MAX_INT_CHARS)")
        plain = not event.style and (event.tag is None or event.tag == "!")  # libyaml says "", PyYAML None
        if plain:
            tag = self._yaml12(event, tag, text)
        node = ScalarNode(tag, text, event.start_mark, event.end_mark, event.style)
        try:
            value = self._safe.yaml_constructors[tag](self._safe, node)
        except (ArithmeticError, LookupError, ValueError):  # e.g. `!!int` on nothing, `!!bool maybe`
            raise self.error(event, "yaml-value", f"{text!r} is not a valid {tag.removeprefix(_TAG)}") from None
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise self.error(event, "limit-int", f"integer {text} is larger than 2**48 (limit MAX_INT)")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(event, "spec-number", f"{text} is not a finite number", "sizes, scales and constants are finite numbers")
        return value

    def _yaml12(self, event: ScalarEvent, tag: str, text: str) -> str:
        """Refuse the plain numbers YAML 1.1 reads differently from YAML 1.2; read ``1e-5`` as a float."""
        if tag == f"{_TAG}int" and _OCTAL.fullmatch(text):
            value = int(text.replace("_", ""), 8)
            decimal = int(text.replace("_", ""), 10)
            hint = f"write {value}" if value == decimal else f"write {value}, or {decimal} as YAML 1.2 reads it, without the leading zero"
            raise self.error(event, "yaml-octal", f"{text} is the octal number {value} in YAML 1.1", hint)
        if tag in (f"{_TAG}int", f"{_TAG}float") and ":" in text:
            value = self._safe.yaml_constructors[tag](self._safe, ScalarNode(tag, text))
            raise self.error(event, "yaml-base60", f"{text} is the base-60 number {value} in YAML 1.1", "write the number, or quote it if it is text")
        if tag == f"{_TAG}str" and _EXPONENT.fullmatch(text):
            return f"{_TAG}float"
        return tag


def load_yaml(text: str, file: str) -> tuple[Any, Source]:
    """Parse one YAML document; return its value and the positions of its nodes."""
    source = Source(file)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise SpecError("limit-file-size", f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB (limit MAX_FILE_BYTES)", Position(file))
    bad = _NON_PRINTABLE.search(text)
    if bad:
        raise SpecError("yaml-character", f"character U+{ord(bad.group()):04X} is not allowed in YAML", _offset_position(text, bad.start(), file), "remove it, or write it as an escape in a double-quoted string")
    _check_flow_depth(text, file)
    try:
        value = _Builder(source).run(yaml.parse(text, Loader=_loader()))
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text, file) from None
    except yaml.YAMLError as exc:  # pragma: no cover - the reader's errors are caught above
        raise SpecError("yaml-syntax", str(exc).splitlines()[0], Position(file)) from None
    if not source.values:
        raise SpecError("spec-empty", "the file is empty", Position(file), "a spec needs at least `input:` and `layers:`")
    return value, source


def _check_flow_depth(text: str, file: str) -> None:
    """Refuse flow collections nested deeper than ``MAX_DEPTH`` before parsing (module docstring).

    Brackets inside quoted scalars and comments do not count. A plain scalar of block context may
    hold a bracket (``name: a[0]``); counting it errs only towards refusing a file with more than
    ``MAX_DEPTH`` unclosed brackets in plain text, which no spec has.
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    depth = 0
    for match in _FLOW_TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise SpecError(
                    "limit-yaml-depth", f"nesting deeper than {MAX_DEPTH} levels (limit MAX_DEPTH)",
                    _offset_position(text, match.start(), file),
                )
        elif token in ("]", "}"):
            depth = max(depth - 1, 0)


def _offset_position(text: str, offset: int, file: str) -> Position:
    line = text.count("\n", 0, offset) + 1
    return Position(file, line, offset - (text.rfind("\n", 0, offset) + 1) + 1)


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, file: str) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    tab = _tab_at(text, mark.line) if mark else None
    if tab is not None or "tab" in problem:
        line = mark.line + 1 if mark else 1
        return SpecError("yaml-tab", "a tab character cannot indent YAML", Position(file, line, (tab or 0) + 1), "indent with spaces")
    start = exc.context_mark
    at_end = mark is not None and mark.index >= len(text.rstrip())
    if start is not None and at_end and any(word in (exc.context or "") for word in ("flow", "quoted")):
        # An unclosed quote or bracket: the parser notices at the end; the fault is the opener.
        what = (exc.context or "").removeprefix("while parsing ").removeprefix("while scanning ")
        return SpecError("yaml-syntax", f"{what or 'this'} is never closed ({problem})", Position(file, start.line + 1, start.column + 1))
    pos = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file)
    context = ""
    if exc.context and exc.problem:
        context = f" {exc.context}"
        if start is not None and mark is not None and (start.line, start.column) != (mark.line, mark.column):
            context += f" that starts at line {start.line + 1}, column {start.column + 1}"
    hint = "check the indentation" if "block" in f"{problem}{context}" else None
    return SpecError("yaml-syntax", f"{problem}{context}", pos, hint)


def _tab_at(text: str, line: int) -> Optional[int]:
    """Column (0-based) of a tab in the indentation of ``line``, if there is one."""
    lines = text.split("\n")
    if line >= len(lines):
        return None
    current = lines[line]
    indent = current[: len(current) - len(current.lstrip(" \t"))]
    return indent.index("\t") if "\t" in indent else None
