"""The pieces of exported PyTorch code: names, literals, calls, and the expressions of a block's
parameters, each checked against the value it must give (``Scope``); what a kind's ``torch``
sees of its layer (``IO``); the variables of a ``forward`` (``Variables``)."""

from __future__ import annotations

import ast
import keyword
import re
from typing import Any, Optional

from convcalc.graph.model import Port
from convcalc.spec._expr import _WHOLE

__all__ = [
    "GROUP_NAMES", "MAX_LINE", "RESERVED", "IO", "Scope", "Variables", "call", "camel", "compress", "docstring",
    "format_class", "identifier", "indent", "literal", "param", "same",
]

# Every attribute of nn.Module (torch 2.x): a layer named like one would shadow it.
MODULE_ATTRS = frozenset(
    "add_module apply bfloat16 buffers call_super_init children compile cpu cuda double "
    "dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter "
    "get_submodule half ipu load_state_dict modules mtia named_buffers named_children named_modules "
    "named_parameters parameters register_backward_hook register_buffer register_forward_hook "
    "register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook "
    "register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module "
    "register_parameter register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ "
    "set_extra_state set_submodule share_memory state_dict to to_empty train training type xpu "
    "zero_grad".split()
)
RESERVED = frozenset({"torch", "nn", "F", "self", "x", "range", "min", "max", "super", "OrderedDict", "in_channels"})
MAX_LINE = 96
GROUP_NAMES = {"seq": "layers", "residual": "residual", "parallel": "parallel", "branch": "branch", "shortcut": "shortcut", "repeat": "blocks"}


# -- code text ----------------------------------------------------------------------------------


def literal(value: Any) -> str:
    """A value as Python source; lists become tuples (PyTorch takes both)."""
    if isinstance(value, (list, tuple)):
        items = [literal(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    return repr(value)


def identifier(text: str, fallback: str) -> str:
    name = re.sub(r"\W+", "_", text, flags=re.ASCII).strip("_")
    if not name:
        name = fallback
    if name[0].isdigit():
        name = f"{fallback}_{name}"
    if keyword.iskeyword(name) or name in MODULE_ATTRS or name in RESERVED:
        name += "_"
    return name


def param(name: str) -> str:
    """A block parameter as a Python name."""
    return "in_channels" if name == "in_channels" else identifier(name, "p")


def camel(text: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", text)
    name = "".join(w[0].upper() + w[1:] for w in words) or "Net"
    return f"Net{name}" if name[0].isdigit() else name


def indent(text: str, levels: int = 1) -> str:
    pad = "    " * levels
    return "\n".join(pad + line if line else line for line in text.split("\n"))


def call(func: str, args: list[str], comments: Optional[list[Optional[str]]] = None) -> str:
    """``func(a, b)`` on one line when short, else one argument per line (with comments)."""
    comments = comments or [None] * len(args)
    one_line = f"{func}({', '.join(args)})"
    if len(one_line) <= MAX_LINE and "\n" not in one_line and not any(comments):
        return one_line
    lines = [f"{func}("]
    for arg, comment in zip(args, comments):
        lines.append(indent(f"{arg},") + (f"  # {comment}" if comment else ""))
    return "\n".join(lines) + "\n)"


def docstring(text: str) -> str:
    text = text.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if "\n" in text:
        return f'"""{text}\n"""'
    return f'"""{text}"""'


class _Rename(ast.NodeTransformer):
    """Spec names -> Python names; the spec's ``/`` divides exactly, so ``//`` is the same."""

    def __init__(self, mapping: dict[str, str]):
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.mapping:
            return ast.copy_location(ast.Name(self.mapping[node.id], ast.Load()), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:  # min / max are functions, not parameters
        node.args = [self.visit(a) for a in node.args]
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.op, ast.Div):
            node.op = ast.FloorDiv()
        return node


def _names(tree: ast.AST) -> set[str]:
    calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in calls}


def _evaluate(code: str, env: dict[str, Any]) -> Any:
    try:
        return eval(compile(code, "<convcalc export>", "eval"), {"__builtins__": {}}, {**env, "min": min, "max": max})  # noqa: S307 - code convcalc wrote
    except Exception:  # noqa: BLE001 - any failure means the expression is not used
        return _NO_VALUE


_NO_VALUE = object()


def same(value: Any, concrete: Any) -> bool:
    if isinstance(value, (list, tuple)) and isinstance(concrete, (list, tuple)):
        return len(value) == len(concrete) and all(same(a, b) for a, b in zip(value, concrete))
    return type(value) is type(concrete) and value == concrete


class Scope:
    """The expressions of one class: its parameters' Python names and values, and the ones used."""

    def __init__(self, params: dict[str, Any]):
        self.python = {name: param(name) for name in params}
        self.values = {self.python[name]: value for name, value in params.items()}
        self.used: set[str] = set()

    def expression(self, raw: Any, concrete: Any) -> Optional[str]:
        """The raw template value as Python in this scope, if it gives ``concrete``; else None."""
        if isinstance(raw, list) and isinstance(concrete, (list, tuple)) and len(raw) == len(concrete):
            parts = [self.expression(r, c) for r, c in zip(raw, concrete)]
            if any(p is None for p in parts):
                return None
            code = f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"
        elif isinstance(raw, str) and "$" in raw:
            whole = _WHOLE.match(raw)
            if not whole:
                return None  # an interpolated string: the value says it best
            source = (whole.group("expr") or whole.group("name")).strip()
            try:
                tree = ast.parse(source, mode="eval")
            except SyntaxError:
                return None
            if not _names(tree) <= set(self.python):
                return None
            code = ast.unparse(_Rename(self.python).visit(tree))
        else:
            return None
        if not same(_evaluate(code, self.values), concrete):
            return None
        self.used |= _names(ast.parse(code, mode="eval")) & set(self.values)
        return code

    def nested(self, in_channels: Any) -> Scope:
        """The same parameters, for a class whose input has ``in_channels`` channels."""
        inner = Scope({})
        inner.python = dict(self.python)
        inner.values = {**self.values, "in_channels": in_channels}
        return inner

    def channels(self, code: str, concrete: Any) -> str:
        """A channel expression, kept when it gives the channel count here, else the count."""
        if code != repr(concrete) and same(_evaluate(code, self.values), concrete):
            self.used |= _names(ast.parse(code, mode="eval")) & set(self.values)
            return code
        return repr(concrete)


class IO:
    """What a kind's ``torch`` sees of its layer (``LayerKind.torch``)."""

    def __init__(self, layer, written: str, template: Any, _unused: dict, c_ins: list[str], in_shapes: list, out_shapes: list, given: set,
                 scope: Optional[Scope] = None):
        self.layer, self.written, self.template = layer, written, template if isinstance(template, dict) else {}
        self.c_ins, self.in_shapes, self.out_shapes = c_ins, in_shapes, out_shapes
        self.given = given or set(layer.model_fields_set)
        self.scope = scope

    @property
    def c_in(self) -> str:
        return self.c_ins[0]

    @property
    def rank(self) -> int:
        return len(self.in_shapes[0]) - 1

    def has(self, name: str) -> bool:
        return name in self.given

    def value(self, name: str) -> Any:
        return getattr(self.layer, name)

    def literal(self, value: Any) -> str:
        return literal(value)

    def arg(self, name: str) -> str:
        value = getattr(self.layer, name)
        if self.scope is not None and name in self.template:
            code = self.scope.expression(self.template[name], value)
            if code is not None:
                return code
        return literal(value)

    def kw(self, *names: str) -> list[str]:
        return [f"{n}={self.arg(n)}" for n in names if n in self.given]

    def add(self, codes: list[str]) -> str:
        """A sum of channel expressions, constants folded."""
        if all(c.isdigit() for c in codes):
            return str(sum(int(c) for c in codes))
        return " + ".join(codes)


class Variables:
    """The variables of one ``forward``: ``x`` holds the tensor flowing through; a tensor named in
    the source keeps its name; one still needed when ``x`` moves on is saved first."""

    def __init__(self, names, taken: set[str]):
        self.names = names
        self.taken = {"x", "self"} | taken
        self.of: dict[Port, str] = {}

    def __getitem__(self, port: Port) -> str:
        return self.of[port]

    def bind(self, port: Port, name: str) -> None:
        self.of[port] = name

    def name(self, port: Port, fallback: Optional[str] = None) -> str:
        wanted = identifier(self.names[port], "t") if port in self.names else fallback or (f"x{port.node}" if port.node >= 0 else "x_in")
        name, i = wanted, 2
        while name in self.taken:
            name, i = f"{wanted}_{i}", i + 1
        self.taken.add(name)
        self.of[port] = name
        return name

    def assign(self, outs: list[Port], value: str, step: int, last_read: dict[Port, int], reads_x: bool, label: str) -> list[str]:
        """The statement that stores a step's outputs. The first goes to ``x`` unless ``x`` is
        still needed and the step does not read it (then to a variable named after the step);
        ``x`` still needed by a later step is saved first."""
        lines, targets = [], []
        for i, port in enumerate(outs):
            holder = next((p for p, v in self.of.items() if v == "x"), None)
            needed = holder is not None and last_read.get(holder, -1) > step
            if i == 0 and port not in self.names and needed and not reads_x:
                targets.append(self.name(port, identifier(label, "t") if not label.isdigit() else None))
            elif i == 0 and port not in self.names:
                if needed:
                    lines.append(f"{self.name(holder, 'identity')} = x")
                for stale in [p for p, v in self.of.items() if v == "x"]:
                    del self.of[stale]
                self.of[port] = "x"
                targets.append("x")
            else:
                targets.append(self.name(port))
        lines.append(f"{', '.join(targets)} = {value}")
        return lines


def compress(exprs: list[str]) -> list[str]:
    """Runs of three or more identical modules as ``*[module for _ in range(n)]``."""
    out: list[str] = []
    i = 0
    while i < len(exprs):
        j = i
        while j < len(exprs) and exprs[j] == exprs[i]:
            j += 1
        if j - i >= 3 and "\n" not in exprs[i]:
            out.append(f"*[{exprs[i]} for _ in range({j - i})]")
        else:
            out += exprs[i:j]
        i = j
    return out


def format_class(text: str) -> str:
    """Put ``forward`` (marked while the body was written) at the class's level."""
    lines = []
    for line in text.split("\n"):
        stripped = line.lstrip(" ")
        if stripped.startswith("\x00"):
            lines.append("    " + stripped[1:] if stripped[1:] else "")
        else:
            lines.append(line)
    return "\n".join(lines)
