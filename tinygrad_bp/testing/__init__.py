"""Property-based testing for gradients, built on hypothesis (``pip install hypothesis``).

Strategies draw shapes, broadcastable shapes, arrays inside a domain away from kinks and poles,
tensors, reduction axes and whole random expression graphs; assertions compare gradients with
finite differences (first and second order) and values with numpy. This is what the project's
own test suite uses::

    from hypothesis import given
    from tinygrad_bp.testing import arrays, assert_gradients_match

    @given(arrays(domain="positive"))
    def test_my_op_gradient(x):
        assert_gradients_match(my_op, x)

``find_bad_gradient(fn, inputs)`` names the first op whose backward disagrees with finite
differences, and the line that created it.

Profiles ``dev`` / ``ci`` / ``thorough`` live in ``tinygrad_bp.testing.profiles``.
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "tinygrad_bp.testing needs hypothesis: pip install hypothesis "
        "(or pip install 'tinygrad-bp[dev]')"
    ) from e

from tinygrad_bp.testing.assertions import (
    assert_gradients_match,
    assert_matches_numpy,
    assert_second_order_match,
)
from tinygrad_bp.testing.bisect import BadGradient, find_bad_gradient
from tinygrad_bp.testing.graphs import GRAPH_OPS, Graph, graphs
from tinygrad_bp.testing.strategies import (
    DOMAINS,
    Domain,
    Shape,
    arrays,
    axes,
    broadcastable_shapes,
    intervals,
    shapes,
    tensors,
)

__all__ = [
    "DOMAINS",
    "GRAPH_OPS",
    "BadGradient",
    "Domain",
    "Graph",
    "Shape",
    "arrays",
    "assert_gradients_match",
    "assert_matches_numpy",
    "assert_second_order_match",
    "axes",
    "broadcastable_shapes",
    "find_bad_gradient",
    "graphs",
    "intervals",
    "shapes",
    "tensors",
]
