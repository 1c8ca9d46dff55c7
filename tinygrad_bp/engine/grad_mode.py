"""Grad mode: whether ops are recorded into the graph (per thread), and the thread's other
switches that ``apply`` reads (anomaly mode, the running Module).

``no_grad`` / ``enable_grad`` / ``set_grad_enabled`` work as context managers and decorators,
as in PyTorch. The state is thread-local: a ``no_grad`` block in one thread does not stop
another thread from recording.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

__all__ = ["enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled"]


class _State(threading.local):
    """Per-thread switches: recording of graphs, anomaly detection, the running Module.

    ``extras_on`` is true when anomaly mode is on or a Module is running, so ``apply`` reads
    one flag instead of two."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self._anomaly = False
        self._scope: Any = None
        self.extras_on = False

    @property
    def anomaly(self) -> bool:
        return self._anomaly

    @anomaly.setter
    def anomaly(self, on: bool) -> None:
        self._anomaly = on
        self.extras_on = on or self._scope is not None

    @property
    def scope(self) -> Any:
        """The Module whose forward is running (drawings group its ops), or None."""
        return self._scope

    @scope.setter
    def scope(self, module: Any) -> None:
        self._scope = module
        self.extras_on = self._anomaly or module is not None


_state = _State()


def is_grad_enabled() -> bool:
    """True when new ops are recorded into the graph (per thread)."""
    return _state.grad_enabled


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator that sets grad mode for the current thread."""

    mode = True

    def __init__(self) -> None:
        self._prev: list[bool] = []

    def _recreate_cm(self) -> _GradMode:  # each decorated call gets its own state
        return type(self)()

    def __enter__(self) -> None:
        self._prev.append(_state.grad_enabled)
        _state.grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = self._prev.pop()


class no_grad(_GradMode):
    """``with tg.no_grad():`` (or ``@tg.no_grad()``): run ops without recording a graph."""

    mode = False


class enable_grad(_GradMode):
    """``with tg.enable_grad():``: record ops again inside a ``no_grad`` block."""

    mode = True


class set_grad_enabled(_GradMode):
    """Set grad mode to ``mode``; usable as a plain call, context manager or decorator."""

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self.mode = bool(mode)
        self._prev.append(_state.grad_enabled)
        _state.grad_enabled = self.mode  # takes effect at once, like torch.set_grad_enabled

    def _recreate_cm(self) -> set_grad_enabled:
        cm = object.__new__(set_grad_enabled)
        _GradMode.__init__(cm)
        cm.mode = self.mode
        return cm

    def __enter__(self) -> None:
        if not self._prev:  # recreated for a decorated call
            super().__enter__()

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = self._prev.pop()
