"""What the builder passes around while it folds a spec: the ids in reach (:class:`Scope`), one
item split into its kind, arguments and meta keys (:class:`Item`), and helpers on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from convcalc.graph._memo import POISONED
from convcalc.kinds import Tensor
from convcalc.spec._source import Path

__all__ = ["POISON", "Item", "Scope", "as_written", "shape_text"]


@dataclass
class Scope:
    """The tensors the items of one block can read by name: ``block_input`` and those named by ``id:``."""

    tensors: dict[str, Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class Item:
    """One item of ``layers:`` read from the source: its kind, its arguments and its meta keys."""

    kind: str
    args: Any
    meta: dict[str, Any]
    path: Path  # of the item in the source
    kind_path: Path  # of the kind's value
    template: Any = None  # the arguments as written, before substitution


POISON = Tensor(shape=(), source=POISONED)


def as_written(item: Item, key: Optional[str], resolved: Any = None) -> Any:
    """The items of a seq, a residual's body or shortcut, or a parallel's branches, as written:
    each is substituted when it is folded, so that its node keeps the arguments as written."""
    template = item.template if key is None else (item.template.get(key) if isinstance(item.template, dict) else None)
    if isinstance(template, (list, dict)):
        return template
    return item.args if key is None else resolved


def shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"
