"""Tests of ``tinygrad_bp.testing`` itself: strategies respect their contracts, assertions
catch wrong gradients (and hypothesis shrinks the failure), profiles load as documented."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_bp as tg
from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.testing import (
    GRAPH_OPS,
    Graph,
    arrays,
    assert_gradients_match,
    assert_matches_numpy,
    assert_second_order_match,
    axes,
    broadcastable_shapes,
    graphs,
    intervals,
    profiles,
    shapes,
    tensors,
)

# An inner search that must find a planted bug: fixed seed, no example database.
FIND = settings(max_examples=200, derandomize=True, database=None, deadline=None)


# --------------------------------------------------------------------------- strategies
@given(shapes(1, 3, 2, 4))
def test_shapes_respect_bounds(s: tuple[int, ...]) -> None:
    assert 1 <= len(s) <= 3 and all(2 <= n <= 4 for n in s)


@given(shapes().flatmap(lambda s: st.tuples(st.just(s), broadcastable_shapes(s, 3))))
def test_broadcastable_shapes_broadcast_with_the_base(case: Any) -> None:
    base, shs = case
    assert len(shs) == 3
    out = np.broadcast_shapes(base, *shs)
    assert all(len(s) <= len(base) for s in shs)
    assert len(out) == len(base)


@given(broadcastable_shapes(num_shapes=2))
def test_broadcastable_shapes_draw_their_own_base(shs: tuple[tuple[int, ...], ...]) -> None:
    np.broadcast_shapes(*shs)


@given(arrays(shapes(), domain="positive", away_from=[1.0, 2.0], margin=0.1))
def test_arrays_stay_in_the_domain_and_away_from_points(a: np.ndarray) -> None:
    assert a.dtype == np.float64
    assert np.all((a >= 0.1) & (a <= 3.0))
    gap = 0.1 - 1e-12  # the hole's edges are 1 +- 0.1 rounded to float64
    assert np.all(np.abs(a - 1.0) >= gap) and np.all(np.abs(a - 2.0) >= gap)


@given(arrays(5, domain="nonzero"), arrays((2, 3), domain="unit"), arrays(3, domain=(-5, -4)))
def test_named_and_explicit_domains(nz: np.ndarray, unit: np.ndarray, box: np.ndarray) -> None:
    assert np.all(np.abs(nz) >= 0.1) and np.all(np.abs(nz) <= 3.0)
    assert np.all(np.abs(unit) < 1.0) and unit.shape == (2, 3)
    assert np.all((box >= -5) & (box <= -4))


@given(arrays((3, 4), dtype=np.float32, domain="positive", away_from=1.0))
def test_arrays_float32_bounds_are_representable(a: np.ndarray) -> None:
    assert a.dtype == np.float32 and np.all(a >= np.float32(0.1)) and np.all(abs(a - 1) >= 0.01)


@given(arrays(12, min_gap=0.05))
def test_arrays_min_gap_prevents_ties(a: np.ndarray) -> None:
    d = np.diff(np.sort(a))
    assert np.all(d >= 0.05 * (1 - 1e-6))  # multiples of the gap, up to rounding


@given(arrays(4, dtype=np.int64, domain=(-3, 3), away_from=0, margin=1), arrays(3, dtype=bool))
def test_arrays_int_and_bool(ints: np.ndarray, flags: np.ndarray) -> None:
    assert ints.dtype == np.int64 and np.all(np.abs(ints) >= 1) and np.all(np.abs(ints) <= 3)
    assert flags.dtype == np.bool_


def test_intervals_cut_holes() -> None:
    assert intervals("real") == [(-3.0, 3.0)]
    assert intervals("real", away_from=0.0, margin=0.5) == [(-3.0, -0.5), (0.5, 3.0)]
    assert intervals((0.0, 1.0), away_from=[0.0, 1.0], margin=0.25) == [(0.25, 0.75)]
    assert intervals("nonzero", away_from=1.0, margin=0.1) == [(-3.0, -0.1), (0.1, 0.9), (1.1, 3.0)]
    with pytest.raises(ValueError, match="unknown domain"):
        intervals("complex")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no values are left"):
        intervals((0.0, 1.0), away_from=0.5, margin=1.0)
    with pytest.raises(ValueError, match="either elements or domain"):
        arrays(3, elements=st.just(1.0), domain="real")


@given(tensors((2, 2), requires_grad=True, domain="positive"), tensors(dtype=np.float32))
def test_tensors(t: Tensor, u: Tensor) -> None:
    assert t.requires_grad and t.is_leaf and t.dtype == np.float64 and t.shape == (2, 2)
    assert np.all(t.data >= 0.1)
    assert not u.requires_grad and u.dtype == np.float32


@given(shapes().flatmap(lambda s: st.tuples(st.just(s), axes(len(s)))))
def test_axes_are_valid_numpy_reduction_axes(case: Any) -> None:
    shape, axis = case
    np.sum(np.zeros(shape), axis=axis)  # raises on an invalid axis
    if isinstance(axis, tuple):
        assert len({a % len(shape) for a in axis}) == len(axis)


def test_axes_can_exclude_forms() -> None:
    seen: set[type] = set()

    @FIND
    @given(axes(3, allow_none=False, allow_tuple=False))
    def only_ints(a: Any) -> None:
        seen.add(type(a))

    only_ints()
    assert seen == {int}
    with pytest.raises(ValueError, match="nothing to draw"):
        axes(0, allow_none=False, allow_tuple=False)


@given(graphs(max_inputs=3, max_ops=6))
def test_graphs_are_well_formed(g: Graph) -> None:
    out = g(*g.inputs)
    assert np.isfinite(out.data).all() and np.abs(out.data).max() < 1e6
    out.backward(np.ones(out.shape))
    for x in g.inputs:  # every input reaches the output
        assert x.grad is not None
    text = repr(g)
    assert text.startswith("Graph(") and "out = " in text
    assert len(text.splitlines()) == len(g.inputs) + len(g.steps) + 3


@given(graphs(min_dims=0, ops=["mul", "tanh"], max_ops=3))
def test_graphs_op_subset(g: Graph) -> None:
    assert {s.op for s in g.steps} <= {"mul", "tanh"}


def test_graphs_fan_out_and_every_op_appear() -> None:
    """Across a search, every op in GRAPH_OPS is drawn and some value feeds several steps."""
    seen: set[str] = set()
    fan_out = []

    @settings(FIND, max_examples=400, suppress_health_check=list(HealthCheck))
    @given(graphs(max_ops=8, max_dims=3))
    def collect(g: Graph) -> None:
        seen.update(s.op for s in g.steps)
        uses = [i for s in g.steps for i in set(s.args)]
        fan_out.append(len(uses) != len(set(uses)))

    collect()
    assert seen == set(GRAPH_OPS)
    assert any(fan_out)


def test_graphs_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown ops"):
        graphs(ops=["sin"])
    with pytest.raises(TypeError, match="takes 1 inputs"):
        g = Graph((Tensor(np.ones(2), requires_grad=True),), (), (0,))
        g()


# --------------------------------------------------------------------------- assertions
class _BadSoftplus(tg.Function):
    """softplus with a backward that is wrong only for x > 1 (sigmoid(x) replaced by 1)."""

    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return np.logaddexp(0.0, x)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x = ctx.inputs[0]
        return g * np.where(x > 1, 1.0, 1 / (1 + np.exp(-x)))


def test_assert_gradients_match_passes_and_accepts_arrays() -> None:
    assert_gradients_match(lambda x, y: (x * y).tanh(), np.array([0.3, -1.2]), np.array(2.0))
    t = Tensor(np.array([0.5, 1.5]), requires_grad=True)
    assert_gradients_match(lambda x, k: x**k, t, 3.0)


def test_hypothesis_finds_and_shrinks_a_wrong_backward() -> None:
    failures: list[float] = []

    @FIND
    @given(arrays(shapes(0, 2), domain="real"))
    def check(x: np.ndarray) -> None:
        try:
            assert_gradients_match(_BadSoftplus.apply, x)
        except AssertionError:
            failures.append(float(np.max(x)))
            raise

    with pytest.raises(tg.GradcheckError) as info:
        check()
    msg = str(info.value)
    assert "numerical" in msg and "analytical" in msg and "input 0:" in msg
    assert failures[-1] > 1.0  # the last failure is the shrunk one: still in the buggy region
    assert "shape ()" in msg  # shrunk to a single element


class _SquareOnce(tg.Function):
    """x^2 with a backward that is right once but drops the graph (wrong second order)."""

    save_inputs = True

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return x * x

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        x = ctx.inputs[0]
        return g * 2.0 * (x.data if isinstance(x, Tensor) else x)


def test_assert_second_order_match_catches_a_detached_backward() -> None:
    x = np.array([0.5, -1.0])
    assert_gradients_match(_SquareOnce.apply, x)
    with pytest.raises(tg.GradcheckError, match="grad of"):
        assert_second_order_match(_SquareOnce.apply, x)
    assert_second_order_match(lambda t: t * t, x)


def test_assert_gradients_match_on_a_transposed_input() -> None:
    assert_gradients_match(lambda x: x * x, np.arange(6.0).reshape(3, 2).T)


def test_assert_matches_numpy() -> None:
    a = np.array([[1.0, -2.0], [0.5, 3.0]])
    assert_matches_numpy(lambda x: x.exp().sum(axis=0), lambda x: np.exp(x).sum(axis=0), a)
    assert_matches_numpy(lambda x: x < 1.0, lambda x: x < 1.0, a)
    assert_matches_numpy(lambda x, y: (x + y, x * y), lambda x, y: (x + y, x * y), a, a)
    with pytest.raises(AssertionError, match="shape"):
        assert_matches_numpy(lambda x: x.sum(keepdims=True), np.sum, a)
    with pytest.raises(AssertionError, match="dtype"):
        assert_matches_numpy(lambda x: x.astype(np.float32), lambda x: x, a)
    with pytest.raises(AssertionError, match="differs from numpy"):
        assert_matches_numpy(lambda x: x * 1.001, lambda x: x, a)
    assert_matches_numpy(lambda x: x * 1.001, lambda x: x, a, rtol=1e-2)


def test_assert_matches_numpy_inputs_are_read_only() -> None:
    a = np.ones(3)

    def mutate(x: Tensor) -> Tensor:
        x.data[0] = 5.0
        return x

    with pytest.raises(ValueError, match="read-only"):
        assert_matches_numpy(mutate, lambda x: x, a)
    assert a.flags.writeable and a[0] == 1.0  # the caller's array is untouched


# --------------------------------------------------------------------------- profiles
@pytest.fixture
def restore_profile() -> Any:
    current = settings.get_current_profile_name()
    yield
    settings.load_profile(current)


def test_profiles_are_registered_as_documented(restore_profile: Any) -> None:
    profiles.register_profiles()
    dev, ci, thorough = (settings.get_profile(n) for n in profiles.PROFILES)
    assert dev.max_examples < ci.max_examples < thorough.max_examples == 1000
    assert ci.derandomize and not dev.derandomize and not thorough.derandomize
    assert dev.deadline is None and ci.deadline is None and thorough.deadline is None


def test_load_profile_reads_the_environment(restore_profile: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv(profiles.ENV_VAR, "thorough")
    assert profiles.load_profile() == "thorough"
    assert settings.default.max_examples == 1000
    assert profiles.load_profile("ci") == "ci" and settings.default.derandomize
    monkeypatch.delenv(profiles.ENV_VAR)
    assert profiles.load_profile() == "dev"
    with pytest.raises(ValueError, match="unknown hypothesis profile 'nope'"):
        profiles.load_profile("nope")


def test_suite_runs_under_a_known_profile() -> None:
    assert settings.get_current_profile_name() in profiles.PROFILES
    assert settings.default.deadline is None
    assert math.isfinite(settings.default.max_examples)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(graphs(max_ops=4, min_dims=2, ops=["mean", "logsumexp", "matmul"]))
def test_graphs_track_exact_shapes_through_reductions(g: Graph) -> None:
    """A keepdims reduction shrinks an axis to 1; a later matmul must see the real shape."""
    g(*g.inputs)  # raises if a step was planned on a wrong shape
