"""Block parameters in layer arguments: ``$width``, ``${width * 4}``, ``"conv${i}"``.

A string that is exactly ``$name`` or ``${expression}`` becomes the value (an int, a float, a bool,
a list); ``${...}`` inside a longer string is interpolated. Expressions are a small, safe subset of
Python (``ALLOWED``): numbers (ints and floats), names, ``+ - * / // %`` (``/`` of two ints that
divide exactly stays an int), comparisons, ``and / or / not``, ``x if c else y``, and the functions
``min``, ``max``, ``round``, ``int``, ``ceil``, ``floor`` and ``make_divisible`` (torchvision's
``_make_divisible``, for channel widths). Nothing else is evaluated. Where a layer needs an int (a
channel count, a kernel size), a float that reaches it is refused there, with its position.

Arithmetic is on numbers only (``+`` also joins two strings), so that no expression can build a
huge string or list: ``'a' * 1000000`` and ``'%999999999d' % 1`` are errors. Bounds, each named in
its message: ``MAX_EXPR_CHARS`` for an expression's text, ``MAX_INT`` (2**48, as for the integers
of the YAML) for its integer value, ``MAX_TEXT_CHARS`` for a string it builds (a string doubled by
every level of nested blocks would otherwise grow without bound).
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import re
from typing import Any, Optional

from convcalc.spec._source import MAX_INT

__all__ = ["ALLOWED", "MAX_EXPR_CHARS", "MAX_TEXT_CHARS", "ExprError", "evaluate", "make_divisible", "substitute", "truthy"]

_WHOLE = re.compile(r"^\$(?:\{(?P<expr>[^{}]*)\}|(?P<name>[A-Za-z_][A-Za-z0-9_]*))$")
_INNER = re.compile(r"\$\{([^{}]*)\}")
MAX_EXPR_CHARS = 200
MAX_TEXT_CHARS = 10_000

_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}


def make_divisible(v: Any, divisor: Any, min_value: Optional[Any] = None) -> int:
    """torchvision's ``_make_divisible``: the multiple of ``divisor`` nearest ``v`` (at least
    ``min_value``, default ``divisor``), and never more than 10% below ``v``."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _round(x: Any, digits: Any = None) -> Any:
    return round(x) if digits is None else round(x, digits)


# name -> (function, fewest arguments, most arguments)
_FUNCTIONS = {
    "min": (min, 2, 64), "max": (max, 2, 64), "round": (_round, 1, 2), "int": (int, 1, 1),
    "ceil": (math.ceil, 1, 1), "floor": (math.floor, 1, 1), "make_divisible": (make_divisible, 2, 3),
}
ALLOWED = (
    "numbers, parameter names, + - * / // %, comparisons, and / or / not, x if c else y, "
    "min(), max(), round(), int(), ceil(), floor(), make_divisible(v, divisor, min_value)"
)


class ExprError(Exception):
    def __init__(self, message: str, path: tuple = ()):
        super().__init__(message)
        self.message = message
        self.path = path


def truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    raise ExprError(f"`when` must be true or false, got {value!r}")


def substitute(value: Any, env: dict[str, Any], path: tuple = ()) -> Any:
    """Replace parameter references throughout a raw YAML value (a copy of its lists and
    mappings). An error names the path of the value it is in, found by going over it again:
    evaluating has no side effects, so the second pass fails where the first did."""
    try:
        return _substituted(value, env)
    except ExprError:
        return _located(value, env, path)


def _substituted(value: Any, env: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value if "$" not in value else _string(value, env, ())
    if isinstance(value, list):
        return [_substituted(v, env) for v in value]
    if isinstance(value, dict):
        return {k: _substituted(v, env) for k, v in value.items()}
    return value


def _located(value: Any, env: dict[str, Any], path: tuple) -> Any:
    if isinstance(value, str):
        return value if "$" not in value else _string(value, env, path)
    if isinstance(value, list):
        return [_located(v, env, (*path, i)) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _located(v, env, (*path, k)) for k, v in value.items()}
    return value


def _string(text: str, env: dict[str, Any], path: tuple) -> Any:
    whole = _WHOLE.match(text)
    if whole:
        return evaluate(whole.group("expr") or whole.group("name"), env, path)
    return _bounded_text(_INNER.sub(lambda m: str(evaluate(m.group(1), env, path)), text), text, path)


def _bounded_text(result: str, source: str, path: tuple) -> str:
    if len(result) > MAX_TEXT_CHARS:
        raise ExprError(f"{source[:40]!r}... builds a string longer than {MAX_TEXT_CHARS:,} characters (limit MAX_TEXT_CHARS)", path)
    return result


def _is_number(value: Any) -> bool:
    """An int, a bool, or a symbolic size: not a string, list or mapping."""
    return not isinstance(value, (str, bytes, list, tuple, dict, set)) and value is not None


def evaluate(source: str, env: dict[str, Any], path: tuple = ()) -> Any:
    if len(source) > MAX_EXPR_CHARS:
        raise ExprError(f"expression longer than {MAX_EXPR_CHARS} characters (limit MAX_EXPR_CHARS)", path)
    tree = _parse(source.strip())
    if tree is None:
        raise ExprError(f"cannot read the expression {source!r}", path)
    value = _eval(tree.body, env, source, path)
    if isinstance(value, float) and not math.isfinite(value):
        raise ExprError(f"{source!r} is not a finite number ({value})", path)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise ExprError(f"{source!r} = {value} is larger than 2**48 (limit MAX_INT)", path)
    return value


@functools.lru_cache(maxsize=4096)
def _parse(source: str) -> ast.Expression | None:
    """A block's expressions are evaluated at every use: parse each text once."""
    try:
        return ast.parse(source, mode="eval")
    except (SyntaxError, ValueError):  # ValueError: a NUL character, which YAML's "\0" can write
        return None


def _eval(node: ast.AST, env: dict[str, Any], source: str, path: tuple) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool, str)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            known = ", ".join(sorted(env)) or "none here"
            raise ExprError(f"unknown parameter {node.id!r} in {source!r} (parameters: {known})", path)
        return env[node.id]
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, env, source, path), _eval(node.right, env, source, path)
        if isinstance(node.op, ast.Add) and isinstance(left, str) and isinstance(right, str):
            return _bounded_text(left + right, source, path)
        if not (_is_number(left) and _is_number(right)):
            raise ExprError(f"cannot compute {source!r} with {left!r} and {right!r}: arithmetic is on numbers", path)
        if isinstance(node.op, ast.Div):
            if right == 0:
                raise ExprError(f"division by zero in {source!r}", path)
            if isinstance(left, int) and isinstance(right, int) and not isinstance(left, bool) and left % right == 0:
                return left // right  # exact: stays an int, as channel counts must
            try:
                return left / right
            except TypeError:
                raise ExprError(f"cannot compute {source!r} with {left!r} and {right!r}", path) from None
        op = _BINARY.get(type(node.op))
        if op is None:
            raise ExprError(f"operator not allowed in {source!r}", path)
        if isinstance(node.op, (ast.FloorDiv, ast.Mod)) and right == 0:
            raise ExprError(f"division by zero in {source!r}", path)
        if isinstance(node.op, ast.Mult) and isinstance(left, int) and isinstance(right, int) and abs(left) * abs(right) > 2**64:
            raise ExprError(f"{source!r}: the product {left} * {right} is larger than 2**64", path)
        try:
            return op(left, right)
        except (TypeError, OverflowError):
            raise ExprError(f"cannot compute {source!r} with {left!r} and {right!r}", path) from None
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, env, source, path)
        if isinstance(node.op, ast.USub) and _is_number(operand):
            return -operand
        if isinstance(node.op, ast.Not):
            return not operand
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, env, source, path) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        left, right = _eval(node.left, env, source, path), _eval(node.comparators[0], env, source, path)
        try:
            return _COMPARE[type(node.ops[0])](left, right)
        except TypeError:
            raise ExprError(f"cannot compare {left!r} and {right!r} in {source!r}", path) from None
    if isinstance(node, ast.IfExp):
        test = _eval(node.test, env, source, path)
        return _eval(node.body if test else node.orelse, env, source, path)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        function, fewest, most = _FUNCTIONS[node.func.id]
        args = [_eval(a, env, source, path) for a in node.args]
        keywords = {k.arg: _eval(k.value, env, source, path) for k in node.keywords if k.arg is not None}
        if len(keywords) != len(node.keywords) or (keywords and node.func.id != "make_divisible") or set(keywords) - {"min_value"}:
            raise ExprError(f"{node.func.id}() takes its arguments by position (make_divisible also min_value=), in {source!r}", path)
        count = len(args) + len(keywords)
        if not fewest <= count <= most or not all(_is_number(a) for a in (*args, *keywords.values())):
            raise ExprError(f"{node.func.id}() takes {fewest}{f' to {most}' if most != fewest else ''} numbers, in {source!r}", path)
        try:
            return function(*args, **keywords)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ExprError(f"cannot compute {source!r}: {exc}", path) from None
    raise ExprError(f"not allowed in an expression: {source!r} (allowed: {ALLOWED})", path)
