"""Block parameters in layer arguments: ``$width``, ``${width * 4}``, ``"conv${i}"``.

A string that is exactly ``$name`` or ``${expression}`` becomes the value (an int, a bool, a
list); ``${...}`` inside a longer string is interpolated. Expressions are a small, safe subset of
Python: numbers, names, ``+ - * // %`` (and ``/`` when it divides exactly), comparisons,
``and / or / not``, ``x if c else y``, ``min`` and ``max``. Nothing else is evaluated.
"""

from __future__ import annotations

import ast
import operator
import re
from typing import Any

__all__ = ["ExprError", "substitute", "truthy"]

_WHOLE = re.compile(r"^\$(?:\{(?P<expr>[^{}]*)\}|(?P<name>[A-Za-z_][A-Za-z0-9_]*))$")
_INNER = re.compile(r"\$\{([^{}]*)\}")
MAX_EXPR_CHARS = 200

_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_FUNCTIONS = {"min": min, "max": max}


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
    """Replace parameter references throughout a raw YAML value."""
    if isinstance(value, str):
        if "$" not in value:
            return value
        return _string(value, env, path)
    if isinstance(value, list):
        return [substitute(v, env, (*path, i)) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: substitute(v, env, (*path, k)) for k, v in value.items()}
    return value


def _string(text: str, env: dict[str, Any], path: tuple) -> Any:
    whole = _WHOLE.match(text)
    if whole:
        return evaluate(whole.group("expr") or whole.group("name"), env, path)
    return _INNER.sub(lambda m: str(evaluate(m.group(1), env, path)), text)


def evaluate(source: str, env: dict[str, Any], path: tuple = ()) -> Any:
    if len(source) > MAX_EXPR_CHARS:
        raise ExprError(f"expression longer than {MAX_EXPR_CHARS} characters (limit MAX_EXPR_CHARS)", path)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        raise ExprError(f"cannot read the expression {source!r}", path) from None
    return _eval(tree.body, env, source, path)


def _eval(node: ast.AST, env: dict[str, Any], source: str, path: tuple) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, bool, str)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            known = ", ".join(sorted(env)) or "none here"
            raise ExprError(f"unknown parameter {node.id!r} in {source!r} (parameters: {known})", path)
        return env[node.id]
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, env, source, path), _eval(node.right, env, source, path)
        if isinstance(node.op, ast.Div):
            if not (isinstance(left, int) and isinstance(right, int)) or right == 0 or left % right:
                raise ExprError(f"{source!r}: {left} / {right} is not a whole number (use // to round down)", path)
            return left // right
        op = _BINARY.get(type(node.op))
        if op is None:
            raise ExprError(f"operator not allowed in {source!r}", path)
        if isinstance(node.op, (ast.FloorDiv, ast.Mod)) and right == 0:
            raise ExprError(f"division by zero in {source!r}", path)
        if isinstance(node.op, ast.Mult) and isinstance(left, int) and isinstance(right, int) and abs(left) * abs(right) > 2**64:
            raise ExprError(f"{source!r} is too large", path)
        try:
            return op(left, right)
        except TypeError:
            raise ExprError(f"cannot compute {source!r} with {left!r} and {right!r}", path) from None
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, env, source, path)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.Not):
            return not operand
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, env, source, path) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        return _COMPARE[type(node.ops[0])](_eval(node.left, env, source, path), _eval(node.comparators[0], env, source, path))
    if isinstance(node, ast.IfExp):
        test = _eval(node.test, env, source, path)
        return _eval(node.body if test else node.orelse, env, source, path)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS and not node.keywords:
        return _FUNCTIONS[node.func.id](*(_eval(a, env, source, path) for a in node.args))
    raise ExprError(f"not allowed in an expression: {source!r}", path)
