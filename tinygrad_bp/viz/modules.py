"""Module clusters: dotted names and nesting of the modules whose ``__call__`` recorded ops
(``node.scope``), from ``params.named_modules()`` or discovered from the scopes themselves."""

from __future__ import annotations

from typing import Any

from tinygrad_bp.viz.text import module_summary


class Modules:
    """Dotted names and nesting of the modules whose ``__call__`` recorded ops."""

    def __init__(self, params: Any, scopes: list[Any]) -> None:
        self.obj: dict[int, Any] = {}
        self.name: dict[int, str] = {}
        self.parent: dict[int, int | None] = {}
        self.by_name: dict[str, int] = {}  # the params module's names (to place parameters)
        if hasattr(params, "named_modules"):
            self.by_name = self._family(list(params.named_modules()))
        unknown = {id(s): s for s in scopes if id(s) not in self.obj}
        inner = {
            id(m)
            for s in unknown.values()
            if hasattr(s, "named_modules")
            for _, m in s.named_modules()
            if m is not s
        }
        for k, s in unknown.items():
            if k not in inner:
                fam = list(s.named_modules()) if hasattr(s, "named_modules") else [("", s)]
                self._family([(n, m) for n, m in fam if id(m) not in self.obj])

    def _family(self, pairs: list[tuple[str, Any]]) -> dict[str, int]:
        ids = {n: id(m) for n, m in pairs}
        for n, m in pairs:
            self.obj[id(m)], self.name[id(m)] = m, n
            up = n
            par = None
            while up and par is None:
                up = up.rpartition(".")[0]
                par = ids.get(up)
            self.parent[id(m)] = par if n else None
        return ids

    def label(self, k: int) -> str:
        n, s = self.name[k], module_summary(self.obj[k])
        return f"{n}: {s}" if n else s

    def common(self, ks: list[int | None]) -> int | None:
        """The innermost module containing all of ``ks`` (None: outside every module)."""
        chains = []
        for k in set(ks):
            c = []
            while k is not None:
                c.append(k)
                k = self.parent.get(k)
            chains.append(c[::-1])
        best = None
        for level in zip(*chains):
            if len(set(level)) != 1:
                break
            best = level[0]
        return best
