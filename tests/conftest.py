"""Hypothesis profiles from ``tinygrad_bp.testing.profiles``, chosen by the HYPOTHESIS_PROFILE
environment variable: ``dev`` (default: 10 examples), ``ci`` (40, derandomized: the same
examples every run) or ``thorough`` (1000); all with ``deadline=None``."""

from __future__ import annotations

from tinygrad_bp.testing.profiles import load_profile

load_profile()
