"""Trace a PyTorch model into a convcalc graph on the ``meta`` device: no weight is allocated and
nothing is computed (the point of PyTorch issue #95202), so a 100-million-parameter model traces in
a second or two.

    convcalc import model.py:build_model --input 3x224x224
    convcalc import torchvision.models:resnet50 --input 3x224x224 -o resnet50.yaml

``FILE.py:FACTORY`` or ``package.module:FACTORY`` names a callable that takes no argument and
returns an ``nn.Module`` (a class is such a callable). It is called under ``torch.device("meta")``
and the module traced with ``torch.export.export`` (non-strict) on a zero input of the given shape
with a batch of one.

How the trace becomes rows
- A call of a module convcalc has a kind for (:data:`MODULES`: ``nn.Conv2d``, ``nn.BatchNorm2d``,
  ``nn.MultiheadAttention`` ...) is one row, named by the module's path, its arguments read from
  the module itself; everything the module computes inside is that row.
- Every other operation (``x + y``, ``torch.cat``, ``x.flatten(1)``, ``F.relu``, a module of the
  model's own) is mapped from the ATen operator the trace records (:data:`FUNCTIONS`); an operator
  convcalc has no kind for is an ``unknown`` row with the shape PyTorch recorded, the totals partial.
- The modules the rows sit in are the groups: the table reads like ``print(model)``.
- Parameters and floating-point buffers are counted by the rows that read them, each once (a
  tensor two modules share is counted by the first); each row's count is checked against them, and
  each row's shape against the one PyTorch computed.

Errors: a missing ``torch`` is ``import-missing-extra`` (exit 2); a file or module that cannot be
imported, a factory that raises or returns something that is not an ``nn.Module`` are
``torch-factory`` (exit 1); a model ``torch.export`` cannot trace is ``torch-trace`` (exit 2).
"""

from __future__ import annotations

import importlib
import importlib.util
import operator
import re
import sys
from pathlib import Path
from typing import Any, Callable, Optional

from convcalc.errors import Position, SpecError, UsageError
from convcalc.graph.model import INPUT, Graph
from convcalc.interop._imported import GraphBuilder, Live, Scope, Unsupported, require
from convcalc.interop._torch_modules import MODULES, rule_of
from convcalc.interop._torch_ops import FUNCTIONS
from convcalc.interop._torch_rules import CONSTANT_SHAPES, Const, Param
from convcalc.interop._targets import FACTORY, is_factory

__all__ = ["FUNCTIONS", "MODULES", "graph_of_module", "import_torch", "is_factory", "load_factory", "require_torch", "trace"]

_FACTORY = FACTORY


def require_torch():
    return require("torch", "importing a PyTorch model", "torch")


def load_factory(target: str) -> tuple[Callable, str]:
    """The callable ``target`` names, and the name of the module it comes from."""
    match = _FACTORY.match(target)
    if not match:
        raise UsageError("usage-factory", f"{target!r} is not FILE.py:FACTORY or package.module:FACTORY")
    source, name = match["source"], match["name"]
    where = Position(source)
    if source.endswith(".py"):
        path = Path(source)
        if not path.is_file():
            raise UsageError("io-missing", "no such file" if not path.exists() else "not a file", where)
        module_name = "convcalc_import_" + re.sub(r"\W", "_", path.stem)
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        folder = str(path.resolve().parent)
        sys.path.insert(0, folder)  # the file may import its neighbours
        try:
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - the user's code: any failure is reported, not raised
            raise SpecError("torch-factory", f"importing it raised {type(exc).__name__}: {_first_line(exc)}", where) from None
        finally:
            sys.modules.pop(module_name, None)
            if sys.path and sys.path[0] == folder:
                sys.path.pop(0)
    else:
        try:
            module = importlib.import_module(source)
        except ModuleNotFoundError as exc:
            if exc.name and source.startswith(exc.name):
                raise UsageError("usage-factory", f"no module named {source!r}", where) from None
            raise SpecError("torch-factory", f"importing it raised {type(exc).__name__}: {_first_line(exc)}", where) from None
        except Exception as exc:  # noqa: BLE001
            raise SpecError("torch-factory", f"importing it raised {type(exc).__name__}: {_first_line(exc)}", where) from None
    found: Any = module
    for part in name.split("."):
        if not hasattr(found, part):
            from convcalc.spec import did_you_mean

            names = [n for n in dir(found) if not n.startswith("_") and callable(getattr(found, n, None))]
            raise UsageError("usage-factory", f"{source} has no {name!r}", where, did_you_mean(part, names) or None)
        found = getattr(found, part)
    if not callable(found):
        raise SpecError("torch-factory", f"{name} is a {type(found).__name__}, not a callable that returns a module", where)
    return found, Path(source).stem if source.endswith(".py") else source


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def build_module(target: str):
    """Call the factory on the meta device; the module in eval mode."""
    torch = require_torch()
    factory, _ = load_factory(target)
    where = Position(target.rsplit(":", 1)[0])
    try:
        with torch.device("meta"):
            model = factory()
    except Exception as exc:  # noqa: BLE001 - the user's code
        raise SpecError("torch-factory", f"{target}: calling it raised {type(exc).__name__}: {_first_line(exc)}", where) from None
    if not isinstance(model, torch.nn.Module):
        raise SpecError("torch-factory", f"{target} returned a {type(model).__name__}, not a torch.nn.Module", where)
    return model.eval()


def trace(model, input_shape: tuple, where: Optional[Position] = None):
    """``torch.export.export`` on zeros of ``(1, *input_shape)``, on the meta device."""
    torch = require_torch()
    if not all(isinstance(d, int) for d in input_shape):
        raise UsageError("usage-input", "a PyTorch model is traced at a size: give --input as numbers (write the spec with -o, then analyse it with symbols)")
    try:
        with torch.no_grad():
            return torch.export.export(model, (torch.zeros((1, *input_shape), device="meta"),), strict=False)
    except Exception as exc:  # noqa: BLE001 - whatever torch.export refuses
        raise UsageError("torch-trace", f"torch.export could not trace the model: {type(exc).__name__}: {_first_line(exc)}", where,
                         "convcalc traces with torch.export on the meta device: code that needs real values (data-dependent branches) cannot run there") from None


def import_torch(target: str, input_shape: tuple) -> Graph:
    """The graph of the model ``target`` (``FILE.py:FACTORY``) on an input of ``input_shape``
    (per sample, channels first)."""
    model = build_module(target)
    name = target.rsplit(":", 1)[1].rsplit(".", 1)[-1]
    return graph_of_module(model, input_shape, name=name, file=target, description=f"Imported from the PyTorch model {target}, traced at input {'x'.join(map(str, input_shape))}.")


def graph_of_module(model, input_shape: tuple, *, name: str, file: str, description: str = "", exported=None) -> Graph:
    """The graph of an ``nn.Module`` (on any device; ``meta`` costs nothing). ``exported``: its
    ``torch.export`` program at this input, when the caller has one."""
    where = Position(file.rsplit(":", 1)[0] if ":" in file else file)
    program = exported if exported is not None else trace(model, tuple(input_shape), where)
    builder = GraphBuilder(name=name, description=description or f"Imported from the PyTorch model {name}.", input_shape=tuple(input_shape),
                           batch=1, file=file, source="torch")
    return _Walker(model, program, builder).run()


# -- the walk -----------------------------------------------------------------------------------


def _val_shape(node) -> Optional[tuple]:
    val = node.meta.get("val")
    return tuple(int(d) for d in val.shape) if hasattr(val, "shape") else None


class _Walker:
    def __init__(self, model, program, builder: GraphBuilder):
        self.model = model
        self.program = program
        self.builder = builder
        self.values: dict[str, Any] = {}
        first_name: dict[int, str] = {}
        for fqn, tensor in (*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False)):
            first_name.setdefault(id(tensor), fqn)
        self.canonical = {fqn: first_name[id(t)] for fqn, t in (*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False))}

    def run(self) -> Graph:
        signature = self.program.graph_signature
        kinds = {spec.arg.name: spec for spec in signature.input_specs if hasattr(spec.arg, "name")}
        user = []
        state = dict(self.program.state_dict)
        state.update(getattr(self.program, "constants", {}) or {})
        nodes = list(self.program.graph.nodes)
        for node in nodes:
            if node.op != "placeholder":
                continue
            spec = kinds.get(node.name)
            kind = spec.kind.name if spec is not None else "USER_INPUT"
            if kind == "USER_INPUT":
                user.append(node)
                continue
            target = spec.target
            tensor = state.get(target)
            shape = tuple(int(d) for d in (tensor.shape if tensor is not None else node.meta["val"].shape))
            floating = tensor is None or tensor.is_floating_point()
            learned = kind == "PARAMETER" or (kind == "BUFFER" and floating)
            numel = 1
            for d in shape:
                numel *= d
            self.values[node.name] = Param(self.canonical.get(target, target), shape, numel, learned)
        if len(user) != 1:
            raise UsageError("torch-inputs", f"convcalc reads models with one input tensor; this one takes {len(user)}", self.builder.where)
        self.values[user[0].name] = Live(INPUT)
        calls = [n for n in nodes if n.op == "call_function"]
        i = 0
        while i < len(calls):
            owner = self.owner(calls[i])
            if owner is None:
                self.function(calls[i])
                i += 1
                continue
            j = i + 1
            while j < len(calls) and self.owner(calls[j]) == owner:
                j += 1
            self.module_call(owner, calls[i:j])
            i = j
        output = next(n for n in nodes if n.op == "output")
        result = output.args[0]
        first = result[0] if isinstance(result, (tuple, list)) else result
        value = self.values.get(getattr(first, "name", None))
        if not isinstance(value, Live):
            raise SpecError("torch-output", "the model's output is not a tensor it computes", self.builder.where)
        return self.builder.finish(self.builder.port_of(value, Scope((), (), "output")))

    # -- where a node comes from -------------------------------------------------------------
    def stack(self, node) -> list[tuple[str, str, str]]:
        """(key, module path, class name) from the root module down, the root left out."""
        stack = node.meta.get("nn_module_stack") or {}
        found = []
        for key, (path, cls) in stack.items():
            if path:
                found.append((key, path, cls.rsplit(".", 1)[-1] if isinstance(cls, str) else getattr(cls, "__name__", "")))
        return found

    def owner(self, node) -> Optional[tuple[str, str]]:
        """The outermost module on the node's stack that is one row (a module convcalc maps)."""
        for key, path, _ in self.stack(node):
            module = self.module(path)
            if module is not None and rule_of(module) is not None:
                return key, path
        return None

    def module(self, path: str):
        try:
            return self.model.get_submodule(path)
        except AttributeError:
            return None

    def scope(self, node, path: Optional[str] = None, op: str = "") -> Scope:
        stack = self.stack(node)
        if path is None:
            path = stack[-1][1] if stack else ""
        parts = tuple(path.split(".")) if path else ()
        classes = {len(p.split(".")): cls for _, p, cls in stack}
        return Scope(parts, tuple(classes.get(d, "") for d in range(1, len(parts) + 1)), op or node.name, node.name)

    # -- values ------------------------------------------------------------------------------
    def value(self, arg: Any) -> Any:
        if hasattr(arg, "op") and hasattr(arg, "name"):  # an fx Node
            if arg.name not in self.values:
                raise Unsupported(f"reads {arg.name}, which convcalc did not compute")
            return self.values[arg.name]
        if isinstance(arg, (list, tuple)):
            return [self.value(a) for a in arg]
        return arg

    def weights(self, *values: Any) -> dict[str, int]:
        return {v.name: v.numel for v in values if isinstance(v, Param) and v.learned}

    def module_weights(self, path: str) -> dict[str, int]:
        module = self.module(path)
        found = {}
        for name, tensor in (*module.named_parameters(), *module.named_buffers()):
            if tensor.is_floating_point():
                fqn = f"{path}.{name}" if path else name
                found[self.canonical.get(fqn, fqn)] = tensor.numel()
        return found

    def check(self, node, value: Live) -> None:
        """convcalc's shape of a row's output against the one PyTorch recorded."""
        want = _val_shape(node)
        if want is None:
            return
        got = tuple(self.builder.full_shape(value))
        if got != want:
            raise UsageError("import-mismatch", f"{node.name}: convcalc computes {got}, PyTorch {want}", self.builder.where,
                             "this is a bug in convcalc's importer: please report it with the model")

    # -- a module as one row -----------------------------------------------------------------
    def module_call(self, owner: tuple[str, str], run: list) -> None:
        key, path = owner
        inside = {n.name for n in run}
        inputs: list = []
        for node in run:
            for arg in _flat(node.args) + _flat(list(node.kwargs.values())):
                if hasattr(arg, "name") and arg.name not in inside and arg.name not in inputs:
                    inputs.append(arg.name)
        lives = [self.values[n] for n in inputs if isinstance(self.values.get(n), Live)]
        outputs = [n for n in run if any(u.name not in inside for u in n.users)] or [run[-1]]
        last = outputs[-1]
        scope = self.scope(run[0], path, path.rsplit(".", 1)[-1])
        module = self.module(path)
        try:
            if not lives:
                raise Unsupported("a module that reads no tensor the network computes")
            value = rule_of(module)(self, module, lives, scope, self.module_weights(path))
            self.check(last, value)
        except Unsupported as exc:
            value = self.unknown(type(module).__name__, last, lives, scope, str(exc), self.module_weights(path))
        for node in outputs:
            self.values[node.name] = value

    # -- one operation -----------------------------------------------------------------------
    def function(self, node) -> None:
        target = node.target
        name = target.__name__ if target is operator.getitem else str(target).split(".")[1] if str(target).startswith("aten.") else str(target)
        scope = self.scope(node)
        if name in _IGNORED:
            return
        try:
            args = [self.value(a) for a in node.args]
            kwargs = {k: self.value(v) for k, v in node.kwargs.items()}
        except Unsupported as exc:
            self.values[node.name] = self.unknown(name, node, [], scope, str(exc), {})
            return
        if args and isinstance(args[0], Const) and name in CONSTANT_SHAPES:
            self.values[node.name] = Const(_val_shape(node) or args[0].shape)
            return
        handler = FUNCTIONS.get(name.rstrip("_")) or FUNCTIONS.get(name)
        try:
            if handler is None:
                raise Unsupported(f"no convcalc kind for the PyTorch operator {name}")
            value = handler(self, node, args, kwargs, scope)
            if isinstance(value, Live):
                self.check(node, value)
        except Unsupported as exc:
            lives = [a for a in _flat(args) if isinstance(a, Live)]
            value = self.unknown(name, node, lives, scope, str(exc), self.weights(*_flat(args)))
        self.values[node.name] = value

    def unknown(self, op: str, node, lives: list, scope: Scope, reason: str, weights: dict) -> Any:
        val = node.meta.get("val")
        shapes = [tuple(int(d) for d in t.shape) for t in (val if isinstance(val, (list, tuple)) else [val]) if hasattr(t, "shape")]
        if not shapes:
            return None
        ports = [self.builder.port_of(v, scope) for v in lives]
        outs = self.builder.emit_unknown(op, ports, [s[1:] for s in shapes], scope, reason=reason, weights=weights)
        values = [Live(p) for p in outs]
        return values if isinstance(val, (list, tuple)) else values[0]


def _flat(args: Any) -> list:
    found: list = []
    for a in args if isinstance(args, (list, tuple)) else [args]:
        if isinstance(a, (list, tuple)):
            found += _flat(a)
        else:
            found.append(a)
    return found


_IGNORED = {"_assert_tensor_metadata", "_assert_scalar", "sym_constrain_range_for_size", "_assert_async"}
