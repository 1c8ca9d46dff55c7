"""Hypothesis settings profiles ``dev`` / ``ci`` / ``thorough``, chosen by ``HYPOTHESIS_PROFILE``.

- ``dev``: 10 examples per test, random: quick feedback while editing.
- ``ci``: 40 examples, ``derandomize=True`` (the same examples on every run, so CI is
  reproducible and never flaky), failure blobs printed.
- ``thorough``: 1000 examples, random: run on demand before a release or after touching an op.

All of them set ``deadline=None`` (gradient checks on a loaded 2-core machine vary too much in
time for a per-example deadline) and suppress the ``too_slow`` health check.

In a ``conftest.py``::

    from tinygrad_bp.testing.profiles import load_profile

    load_profile()  # HYPOTHESIS_PROFILE=ci pytest ... picks "ci"; default "dev"
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.errors import InvalidArgument

__all__ = ["ENV_VAR", "PROFILES", "load_profile", "register_profiles"]

ENV_VAR = "HYPOTHESIS_PROFILE"
DEFAULT = "dev"
PROFILES = ("dev", "ci", "thorough")

_SUPPRESS = [HealthCheck.too_slow]


def register_profiles() -> None:
    """Register the ``dev``, ``ci`` and ``thorough`` profiles (safe to call repeatedly, even
    while one of them is loaded: each starts from hypothesis' defaults, not the current one)."""
    base = settings.get_profile("default")
    common: dict[str, Any] = {"deadline": None, "suppress_health_check": _SUPPRESS}
    settings.register_profile("dev", base, max_examples=10, derandomize=False, **common)
    settings.register_profile(
        "ci", base, max_examples=40, derandomize=True, print_blob=True, **common
    )
    settings.register_profile("thorough", base, max_examples=1000, derandomize=False, **common)


def load_profile(name: str | None = None) -> str:
    """Register the profiles and load ``name`` (default: ``$HYPOTHESIS_PROFILE``, else
    ``dev``); returns the name loaded. Profiles registered elsewhere can be loaded too."""
    register_profiles()
    chosen = name or os.environ.get(ENV_VAR) or DEFAULT
    try:
        settings.load_profile(chosen)
    except InvalidArgument:
        raise ValueError(
            f"unknown hypothesis profile {chosen!r} (from {'the argument' if name else ENV_VAR}); "
            f"use one of {list(PROFILES)} or register it first with settings.register_profile"
        ) from None
    return chosen
