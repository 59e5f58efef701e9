"""Read YAML safely and remember where every node came from.

PyYAML's ``SafeLoader`` composes the node graph; we build plain Python values from it ourselves so
that we can (a) record the 1-based line and column of every key and value, (b) refuse duplicate
keys and any tag that is not a plain YAML type, and (c) bound alias expansion, nesting depth and
integer size, so that no file can make convcalc hang or eat memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import Position, SpecError

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_INT", "MAX_NODES", "Source", "load_yaml"]

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_NODES = 200_000  # values built, counting every expansion of an alias
MAX_DEPTH = 64
MAX_INT = 2**48  # larger than any tensor dimension or channel count anyone needs

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}

Path = tuple[Any, ...]


@dataclass
class Source:
    """Positions of the values (and of the keys) of one YAML document, by path."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def pos(self, path: Path, *, key: bool = False) -> Position:
        """Position of ``path``, or of its deepest ancestor that exists in the file."""
        path = tuple(path)
        while True:
            table = self.keys if key and path in self.keys else self.values
            if path in table:
                line, col = table[path]
                return Position(self.file, line, col)
            if not path:
                return Position(self.file, 1, 1)
            path = path[:-1]
            key = False


class _Builder:
    def __init__(self, source: Source):
        self.source = source
        self.count = 0
        self._safe = yaml.SafeLoader("")

    def _mark(self, node: Node) -> tuple[int, int]:
        return node.start_mark.line + 1, node.start_mark.column + 1

    def _error(self, node: Node, code: str, message: str, hint: str | None = None) -> SpecError:
        line, col = self._mark(node)
        return SpecError(code, message, Position(self.source.file, line, col), hint)

    def build(self, node: Node, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self._error(
                node, "limit-yaml-nodes",
                f"the document expands to more than {MAX_NODES:,} values (limit MAX_NODES)",
                "aliases that refer to aliases multiply; write the values out",
            )
        if depth > MAX_DEPTH:
            raise self._error(node, "limit-yaml-depth", f"nesting deeper than {MAX_DEPTH} levels (limit MAX_DEPTH)")
        if node.tag not in _PLAIN_TAGS:
            raise self._error(
                node, "yaml-tag", f"tag {node.tag!r} is not allowed",
                "specs are plain YAML: mappings, lists, strings, numbers, booleans",
            )
        self.source.values[path] = self._mark(node)
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, MappingNode)
        self._safe.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                raise self._error(key_node, "yaml-key", "mapping keys must be plain strings")
            key = self._scalar(key_node)
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                key = str(key_node.value)
            if key in result:
                first = self.source.keys[(*path, key)]
                raise self._error(
                    key_node, "yaml-duplicate-key",
                    f"duplicate key {key!r} (first defined at line {first[0]})",
                )
            self.source.keys[(*path, key)] = self._mark(key_node)
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result

    def _scalar(self, node: ScalarNode) -> Any:
        value = self._safe.construct_object(node)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise self._error(node, "limit-int", f"integer {node.value} is larger than 2**48 (limit MAX_INT)")
        return value


def load_yaml(text: str, file: str) -> tuple[Any, Source]:
    """Parse one YAML document; return its value and the positions of its nodes."""
    source = Source(file)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise SpecError("limit-file-size", f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB (limit MAX_FILE_BYTES)", Position(file))
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, file) from exc
    except yaml.YAMLError as exc:  # pragma: no cover - PyYAML raises marked errors for text input
        raise SpecError("yaml-syntax", str(exc).splitlines()[0], Position(file)) from exc
    if node is None:
        raise SpecError("spec-empty", "the file is empty", Position(file), "a spec needs at least `input:` and `layers:`")
    return _Builder(source).build(node, (), 0), source


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    pos = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file)
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    if "'\\t'" in problem or "tab" in problem:
        return SpecError("yaml-tab", "a tab character cannot indent YAML", pos, "indent with spaces")
    context = f" {exc.context}" if exc.context and exc.problem else ""
    return SpecError("yaml-syntax", f"{problem}{context}", pos)
