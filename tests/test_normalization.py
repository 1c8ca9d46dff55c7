"""batch_norm, layer_norm, dropout and embedding (tinygrad_bp.nn.normalization) and their
layers: values, gradients and running statistics against PyTorch, gradcheck/gradgradcheck,
seeded dropout in train and eval mode, buffers in state_dict and in saved files, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import nn
from tinygrad_bp.nn import functional as F

RNG = np.random.default_rng(17)


# --------------------------------------------------------------------------- batch norm
@pytest.mark.torch
@pytest.mark.parametrize(
    "layer, shape",
    [("BatchNorm2d", (4, 3, 5, 6)), ("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 7))],
)
def test_batch_norm_matches_torch_in_train_and_eval(layer: str, shape: tuple[int, ...]) -> None:
    """Three training steps (outputs, input/weight/bias grads, running mean and unbiased
    running variance, num_batches_tracked), then eval mode on the running statistics."""
    import torch

    mine = getattr(nn, layer)(3, momentum=0.2, dtype=np.float64)
    theirs = getattr(torch.nn, layer)(3, momentum=0.2).double()
    for step in range(3):
        x = RNG.standard_normal(shape) * (step + 1) + step
        xt, tt = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = mine(xt), theirs(tt)
        np.testing.assert_allclose(y.data, ty.detach().numpy(), atol=1e-12)
        up = RNG.standard_normal(shape)
        y.backward(up)
        ty.backward(torch.tensor(up))
        np.testing.assert_allclose(xt.grad.data, tt.grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(mine.weight.grad.data, theirs.weight.grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(mine.bias.grad.data, theirs.bias.grad.numpy(), atol=1e-10)
        mine.zero_grad()
        theirs.zero_grad()
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            np.testing.assert_allclose(
                getattr(mine, name).data, getattr(theirs, name).numpy(), rtol=1e-12
            )
    mine.eval()
    theirs.eval()
    x = RNG.standard_normal(shape)
    np.testing.assert_allclose(
        mine(tg.Tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), atol=1e-12
    )


def test_batch_norm_eval_leaves_running_stats_alone() -> None:
    bn = nn.BatchNorm2d(2)
    bn(tg.Tensor(RNG.standard_normal((3, 2, 4, 4)).astype(np.float32)))
    before = {k: v.copy() for k, v in bn.state_dict().items()}
    bn.eval()
    y = bn(tg.Tensor(RNG.standard_normal((3, 2, 4, 4)).astype(np.float32)))
    assert y.dtype == np.float32
    for k, v in bn.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck_and_gradgradcheck(training: bool) -> None:
    x = tg.Tensor(RNG.standard_normal((3, 2, 2, 3)), requires_grad=True)
    w = tg.Tensor(RNG.standard_normal(2) + 1.5, requires_grad=True)
    b = tg.Tensor(RNG.standard_normal(2), requires_grad=True)
    rm, rv = tg.Tensor(RNG.standard_normal(2)), tg.Tensor(RNG.random(2) + 0.5)

    def f(x: Any, w: Any, b: Any) -> Any:
        if training:  # no running stats: gradcheck's repeated calls must not change them
            return F.batch_norm(x, None, None, w, b, training=True)
        return F.batch_norm(x, rm, rv, w, b, training=False)

    assert tg.gradcheck(f, [x, w, b])
    assert tg.gradgradcheck(f, [x, w, b])


def test_batch_norm_state_dict_and_save_load_round_trip(tmp_path: Any) -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3, rng=0), nn.BatchNorm2d(2), nn.ReLU())
    model(tg.Tensor(RNG.standard_normal((4, 1, 5, 5)).astype(np.float32)))
    keys = set(model.state_dict())
    assert {"1.running_mean", "1.running_var", "1.num_batches_tracked", "1.weight"} <= keys
    assert "1.running_mean" not in dict(model.named_parameters())
    model.save(tmp_path / "m.npz")
    twin = nn.Sequential(nn.Conv2d(1, 2, 3, rng=1), nn.BatchNorm2d(2), nn.ReLU())
    twin.load(tmp_path / "m.npz")
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(twin.state_dict()[k], v)


def test_batch_norm_errors() -> None:
    with pytest.raises(ValueError, match=r"BatchNorm2d.*4 axes.*\(3, 2\)"):
        nn.BatchNorm2d(2)(tg.Tensor(np.zeros((3, 2), np.float32)))
    with pytest.raises(ValueError, match=r"batch_norm.*3 channels.*2"):
        F.batch_norm(np.zeros((4, 3)), tg.Tensor(np.zeros(2)), tg.Tensor(np.ones(2)))
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.BatchNorm1d(2)(tg.Tensor(np.zeros((1, 2), np.float32)))


# --------------------------------------------------------------------------- layer norm
@pytest.mark.torch
@pytest.mark.parametrize("normalized_shape", [5, (4, 5)])
def test_layer_norm_matches_torch(normalized_shape: Any) -> None:
    import torch

    x = RNG.standard_normal((3, 4, 5))
    mine = nn.LayerNorm(normalized_shape, dtype=np.float64)
    theirs = torch.nn.LayerNorm(normalized_shape).double()
    with torch.no_grad():
        w = RNG.standard_normal(theirs.weight.shape)
        theirs.weight.copy_(torch.tensor(w))
    mine.weight.data[...] = w
    xt, tt = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = mine(xt), theirs(tt)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), atol=1e-12)
    up = RNG.standard_normal(x.shape)
    y.backward(up)
    ty.backward(torch.tensor(up))
    np.testing.assert_allclose(xt.grad.data, tt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(mine.weight.grad.data, theirs.weight.grad.numpy(), atol=1e-10)


def test_layer_norm_gradcheck_gradgradcheck_and_errors() -> None:
    x = tg.Tensor(RNG.standard_normal((2, 3, 4)), requires_grad=True)
    w = tg.Tensor(RNG.standard_normal(4), requires_grad=True)

    def f(x: Any, w: Any) -> Any:
        return F.layer_norm(x, 4, w)

    assert tg.gradcheck(f, [x, w])
    assert tg.gradgradcheck(f, [x, w])
    assert nn.LayerNorm(4, elementwise_affine=False).weight is None
    with pytest.raises(ValueError, match=r"layer_norm.*\(3,\).*\(2, 3, 4\)"):
        F.layer_norm(x, 3)


# --------------------------------------------------------------------------- dropout
def test_dropout_is_seeded_scaled_and_off_in_eval() -> None:
    x = tg.Tensor(np.ones((200, 50), np.float32), requires_grad=True)
    a = F.dropout(x, 0.3, rng=5)
    b = F.dropout(x, 0.3, rng=5)
    np.testing.assert_array_equal(a.data, b.data)
    assert a.dtype == np.float32
    kept = a.data != 0
    assert 0.65 < kept.mean() < 0.75
    np.testing.assert_allclose(a.data[kept], 1 / 0.7, rtol=1e-6)
    a.sum().backward()
    np.testing.assert_allclose(x.grad.data, a.data)  # the same mask scales the gradient
    assert F.dropout(x, 0.3, training=False) is x
    layer = nn.Dropout(0.5, rng=0)
    first, second = layer(x).data, layer(x).data
    assert not np.array_equal(first, second)  # one generator: a new mask per call
    layer.eval()
    assert layer(x) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).data, 0)
    with pytest.raises(ValueError, match=r"dropout: p must be in \[0, 1\]"):
        F.dropout(x, 1.5)


def test_dropout_gradcheck() -> None:
    x = tg.Tensor(RNG.standard_normal((4, 5)), requires_grad=True)
    assert tg.gradcheck(lambda x: F.dropout(x, 0.4, rng=3), [x])
    assert tg.gradgradcheck(lambda x: F.dropout(x, 0.4, rng=3) ** 2, [x])


# --------------------------------------------------------------------------- embedding
@pytest.mark.torch
def test_embedding_gathers_rows_and_scatter_adds_grads_like_torch() -> None:
    import torch

    emb = nn.Embedding(6, 3, rng=0, dtype=np.float64)
    temb = torch.nn.Embedding(6, 3).double()
    with torch.no_grad():
        temb.weight.copy_(torch.from_numpy(emb.weight.data))
    idx = np.array([[0, 2, 2], [5, 2, 0]])
    y, ty = emb(idx), temb(torch.from_numpy(idx))
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    up = RNG.standard_normal(y.shape)
    y.backward(up)
    ty.backward(torch.tensor(up))
    np.testing.assert_allclose(emb.weight.grad.data, temb.weight.grad.numpy(), atol=1e-12)


def test_embedding_errors_and_state() -> None:
    emb = nn.Embedding(4, 2, rng=0)
    assert emb.weight.dtype == np.float32 and sorted(emb.state_dict()) == ["weight"]
    with pytest.raises(IndexError, match=r"embedding: indices must be in \[0, 4\)"):
        emb(np.array([1, 4]))
    with pytest.raises(TypeError, match="embedding: indices must be integers"):
        emb(np.array([0.5]))
    assert emb(np.array([[1], [3]])).shape == (2, 1, 2)
