"""How a result shows itself in a notebook (``_repr_html_``, ``_repr_markdown_``).

Results live below the renderers (the report layer may not import :mod:`convcalc.render`), so a
result's display method asks this registry, which the renderers fill: importing
:mod:`convcalc.render.notebook` registers them, and ``import convcalc`` does that with the first
use of its API (``convcalc.analyze``, ``convcalc.Report``). A result no renderer has registered a
display for shows as its compact ``repr``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

__all__ = ["Displayed", "display", "register"]

_DISPLAYS: dict[tuple[type, str], Callable[[Any], str]] = {}


def register(cls: type, mime: str, render: Callable[[Any], str]) -> None:
    """``render(obj)`` is the ``mime`` (``"html"``, ``"markdown"``) display of instances of ``cls``."""
    _DISPLAYS[(cls, mime)] = render


def display(obj: Any, mime: str) -> Optional[str]:
    """The registered ``mime`` display of ``obj``; ``None`` (the notebook then shows the
    ``repr``) when there is none."""
    for cls in type(obj).__mro__:
        render = _DISPLAYS.get((cls, mime))
        if render is not None:
            return render(obj)
    return None


class Displayed:
    """Notebook displays from the registry: ``_repr_html_`` and ``_repr_markdown_``."""

    def _repr_html_(self) -> Optional[str]:
        return display(self, "html")

    def _repr_markdown_(self) -> Optional[str]:
        return display(self, "markdown")
