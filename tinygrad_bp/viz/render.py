"""Rendering through Graphviz's ``dot``: a clear error when the program (or the Python
package) is missing, and ``render_graph`` that writes SVG/PNG/PDF files."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

__all__ = ["DotNotFoundError", "render_graph"]

INSTALL_DOT = (
    "the Graphviz 'dot' program was not found on PATH, so the graph cannot be rendered. "
    "Install Graphviz itself (pip install graphviz installs only the Python bindings): "
    "Debian/Ubuntu `sudo apt-get install graphviz`, conda `conda install graphviz`, "
    "macOS `brew install graphviz`, Windows `winget install graphviz` (then add it to PATH). "
    "The DOT source is still available as `.source`."
)


try:  # subclass graphviz's own error, so `except graphviz.ExecutableNotFound` still works
    from graphviz import ExecutableNotFound as _NotFound
except ImportError:  # pragma: no cover - without graphviz nothing can raise it anyway
    _NotFound = RuntimeError  # type: ignore[assignment,misc]


class DotNotFoundError(_NotFound):  # type: ignore[misc,valid-type]
    """Graphviz's ``dot`` executable is missing; the message says how to install it.
    A ``graphviz.ExecutableNotFound`` (and so a ``RuntimeError``)."""

    def __init__(self, message: str) -> None:
        RuntimeError.__init__(self, message)


def import_graphviz() -> Any:
    """The ``graphviz`` module, or an ImportError saying how to install it."""
    try:
        import graphviz
    except ImportError as e:
        raise ImportError(
            "drawing graphs needs the graphviz Python package: `pip install graphviz` "
            "(or `pip install 'tinygrad-bp[viz]'`), plus the Graphviz `dot` program "
            "(Debian `apt-get install graphviz`, conda `conda install graphviz`, "
            "brew `brew install graphviz`)"
        ) from e
    return graphviz


@functools.cache
def digraph_class() -> Any:
    """``graphviz.Digraph`` whose rendering turns a missing ``dot`` into ``DotNotFoundError``
    and whose Jupyter display falls back to the DOT source with the install hint."""
    graphviz = import_graphviz()

    class Digraph(graphviz.Digraph):  # type: ignore[misc,name-defined]
        """A graphviz Digraph with an installation hint when ``dot`` is missing."""

        def pipe(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().pipe(*args, **kwargs)
            except graphviz.ExecutableNotFound as e:
                raise DotNotFoundError(INSTALL_DOT) from e

        def render(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().render(*args, **kwargs)
            except graphviz.ExecutableNotFound as e:
                raise DotNotFoundError(INSTALL_DOT) from e

        def _repr_mimebundle_(
            self, include: Any = None, exclude: Any = None, **kwargs: Any
        ) -> dict[str, Any]:
            try:
                return super()._repr_mimebundle_(include, exclude, **kwargs)  # type: ignore[no-any-return]
            except (graphviz.ExecutableNotFound, DotNotFoundError):
                return {"text/plain": f"{INSTALL_DOT}\n\n{self.source}"}

    return Digraph


def render_graph(dot: Any, path: str | Path, format: str | None = None) -> Path:
    """Render a Digraph to ``path`` with ``dot`` and return the path.

    Args:
        dot: the graph (from ``draw_graph``).
        path: the output file; its suffix picks the format unless ``format`` is given
            (svg, png, pdf, or anything ``dot -T`` accepts).
        format: override the format.

    Raises:
        DotNotFoundError: ``dot`` is not installed. The DOT source is then written next to
            ``path`` with the suffix ``.gv`` (render it later with ``dot -Tsvg file.gv``).
    """
    graphviz = import_graphviz()
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".") or "svg").lower()
    try:
        data = graphviz.Source(dot.source).pipe(format=fmt)
    except graphviz.ExecutableNotFound as e:
        gv = path.with_suffix(".gv")
        gv.parent.mkdir(parents=True, exist_ok=True)
        gv.write_text(dot.source, encoding="utf-8")
        raise DotNotFoundError(f"{INSTALL_DOT} It was saved to {gv}.") from e
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
