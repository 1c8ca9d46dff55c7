"""nn: Module registration and traversal, state dicts, Linear, activations, Sequential, MLP,
init schemes, clip_grad_norm_."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import nn
from tinygrad_bp.engine.grad_mode import _state
from tinygrad_bp.nn import init
from tinygrad_bp.nn.utils import clip_grad_norm_, clip_grad_value_


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1))
        self.scale = nn.Parameter(np.ones(2))
        self.register_buffer("offset", tg.zeros(2))
        self.not_a_param = tg.ones(2)  # no grad: a plain attribute

    def forward(self, x):
        return self.body(x) * self.scale + self.offset


def test_module_registers_parameters_and_modules_with_dotted_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "body.0.weight", "body.0.bias", "body.2.weight", "body.2.bias"]
    assert [n for n, _ in net.named_modules()] == ["", "body", "body.0", "body.1", "body.2"]
    assert [n for n, _ in net.named_buffers()] == ["offset"]
    assert [n for n, _ in net.named_children()] == ["body"]
    assert net.num_parameters() == 2 + 3 * 4 + 4 + 4 * 2 + 2
    assert net.scale.dtype == np.float64  # float arrays keep their dtype


def test_module_reassignment_and_deletion_update_the_registry():
    net = Net()
    net.scale = None  # replacing a parameter by a non-tensor unregisters it
    assert "scale" not in dict(net.named_parameters())
    del net.body
    assert list(net.named_parameters()) == []
    with pytest.raises(TypeError, match="buffer"):
        net.offset = 3


def test_module_shared_parameter_is_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2


def test_module_needs_super_init():
    class Bad(nn.Module):
        def __init__(self) -> None:
            self.w = nn.Parameter([1.0])

    with pytest.raises(AttributeError, match=r"super\(\).__init__"):
        Bad()


def test_module_call_sets_scope_for_graph_drawings():
    seen = []

    class Spy(nn.Module):
        def forward(self, x):
            seen.append(_state.scope)
            return x * 2

    spy = Spy()
    x = tg.Tensor([1.0], requires_grad=True)
    y = nn.Sequential(spy)(x)
    assert seen == [spy]
    assert y.grad_fn.scope is spy
    assert _state.scope is None


def test_module_scope_is_restored_after_an_exception():
    class Boom(nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        Boom()(tg.Tensor([1.0]))
    assert _state.scope is None


def test_module_train_eval_zero_grad():
    net = Net()
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net(tg.ones(5, 3)).sum().backward()
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_round_trip_is_a_copy():
    a, b = Net(), Net()
    b.body[0].weight.data[...] = 5
    sd = a.state_dict()
    assert set(sd) == {
        "scale",
        "offset",
        "body.0.weight",
        "body.0.bias",
        "body.2.weight",
        "body.2.bias",
    }
    sd["scale"][...] = 7  # a copy: the model is unaffected
    assert a.scale.numpy()[0] == 1
    w = b.body[0].weight
    v = w._version
    b.load_state_dict(a.state_dict())
    assert w is b.body[0].weight and w._version > v  # loaded in place
    np.testing.assert_array_equal(w.numpy(), a.body[0].weight.numpy())


def test_load_state_dict_reports_every_problem_and_changes_nothing():
    net = Net()
    before = net.state_dict()
    bad = net.state_dict()
    del bad["scale"]
    bad["extra"] = np.zeros(1)
    bad["body.0.weight"] = np.zeros((4, 3))
    with pytest.raises(ValueError) as e:
        net.load_state_dict(bad)
    msg = str(e.value)
    assert "missing keys: scale" in msg and "unexpected keys: extra" in msg
    assert "body.0.weight: shape (4, 3) in the state, (3, 4) in the model (transposed?" in msg
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    bad["body.0.weight"] = np.zeros((3, 4))
    missing, unexpected = net.load_state_dict(bad, strict=False)
    assert missing == ["scale"] and unexpected == ["extra"]
    with pytest.raises(ValueError, match="not numeric"):
        net.load_state_dict({**net.state_dict(), "scale": np.array(["a", "b"])})


def test_module_repr_is_a_tree():
    m = nn.MLP([784, 100, 10], "sigmoid", rng=0)
    assert repr(m) == (
        "MLP(784-100-10, activation=sigmoid\n"
        "  (layers): Sequential(\n"
        "    (0): Linear(784 -> 100)\n"
        "    (1): Sigmoid()\n"
        "    (2): Linear(100 -> 10)\n"
        "  )\n"
        ")"
    )
    assert repr(nn.Linear(2, 3, bias=False)) == "Linear(2 -> 3, bias=False)"
    assert repr(nn.Softmax(axis=1)) == "Softmax(axis=1)"


def test_module_astype_converts_in_place():
    m = nn.MLP([3, 4, 2], rng=0)
    w = m.layers[0].weight
    m.double()
    assert w is m.layers[0].weight and w.dtype == np.float64
    assert m(tg.Tensor(np.ones((2, 3)))).dtype == np.float64
    with pytest.raises(TypeError):
        m.astype(np.int32)


def test_module_save_load(tmp_path):
    a, b = nn.MLP([3, 4, 2], rng=0), nn.MLP([3, 4, 2], rng=1)
    a.save(tmp_path / "m.npz", note="hi")
    b.load(tmp_path / "m.npz")
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(v, w, err_msg=k)


# --------------------------------------------------------------------------- Linear
def test_linear_matches_numpy_and_gradcheck():
    rng = np.random.default_rng(0)
    lin = nn.Linear(5, 3, rng=0).double()
    x = rng.normal(size=(4, 5))
    y = lin(tg.Tensor(x))
    np.testing.assert_allclose(y.numpy(), x @ lin.weight.numpy() + lin.bias.numpy())
    assert y.grad_fn is not None and type(y.grad_fn).__name__ == "Affine"
    xt = tg.Tensor(x, requires_grad=True)
    assert tg.gradcheck(lambda a, w, b: nn.functional.linear(a, w, b), [xt, lin.weight, lin.bias])
    assert tg.gradgradcheck(
        lambda a, w, b: nn.functional.linear(a, w, b), [xt, lin.weight, lin.bias]
    )


def test_linear_keeps_only_what_each_wanted_grad_needs():
    rng = np.random.default_rng(2)
    x, w, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)
    for nx, nw, nb in [(True, True, True), (True, False, False), (False, True, True)]:
        xt = tg.Tensor(x, requires_grad=nx)
        wt = tg.Tensor(w, requires_grad=nw)
        bt = tg.Tensor(b, requires_grad=nb)
        y = nn.functional.linear(xt, wt, bt)
        node = y.grad_fn
        assert node.needs_input_grad == (nx, nw, nb)
        # x only for w's grad, w only for x's, the bias never
        assert (node.inputs[0] is not None, node.inputs[1] is not None) == (nw, nx)
        assert node.inputs[2] is None
        (y * y).sum().backward()
        g = 2 * (x @ w + b)
        for t, want, ref in [(xt, nx, g @ w.T), (wt, nw, x.T @ g), (bt, nb, g.sum(0))]:
            if want:
                np.testing.assert_allclose(t.grad.numpy(), ref, rtol=1e-12)
            else:
                assert t.grad is None
    # plain arrays are accepted as the input, and no bias gives the same op
    y = nn.functional.linear(x, tg.Tensor(w, requires_grad=True))
    assert type(y.grad_fn).__name__ == "Affine" and y.grad_fn.needs_input_grad[2] is False
    np.testing.assert_allclose(y.numpy(), x @ w, rtol=1e-12)


def test_linear_batched_and_1d_inputs_and_no_bias():
    lin = nn.Linear(3, 2, bias=False, rng=0).double()
    assert lin.bias is None and len(list(lin.parameters())) == 1
    x = np.random.default_rng(1).normal(size=(2, 4, 3))
    np.testing.assert_allclose(lin(tg.Tensor(x)).numpy(), x @ lin.weight.numpy())
    assert lin(tg.Tensor(x[0, 0])).shape == (2,)
    assert tg.gradcheck(lambda a: lin(a), [tg.Tensor(x, requires_grad=True)])


def test_linear_rejects_wrong_feature_count_with_a_clear_message():
    with pytest.raises(
        ValueError, match=r"Linear\(784 -> 100\): input of shape \(2, 64\) should have 784"
    ):
        nn.Linear(784, 100)(tg.ones(2, 64))
    with pytest.raises(ValueError, match="positive"):
        nn.Linear(0, 3)
    with pytest.raises(ValueError, match="unknown init"):
        nn.Linear(2, 3, init="nope")


def test_linear_is_seeded_and_dense_is_an_alias():
    a, b = nn.Linear(4, 3, rng=7), nn.Dense(4, 3, rng=7)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    assert nn.Dense is nn.Linear
    assert a.weight.shape == (4, 3) and a.weight.dtype == np.float32
    assert not a.bias.numpy().any()


# --------------------------------------------------------------------------- activations
@pytest.mark.parametrize(
    ("module", "ref"),
    [
        (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
        (nn.Tanh(), np.tanh),
        (nn.ReLU(), lambda x: np.maximum(x, 0)),
        (nn.Identity(), lambda x: x),
        (nn.Softmax(axis=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
        (nn.LogSoftmax(axis=1), lambda x: x - np.log(np.exp(x).sum(1, keepdims=True))),
        (nn.Flatten(), lambda x: x.reshape(len(x), -1)),
    ],
    ids=lambda v: type(v).__name__,
)
def test_activation_modules(module, ref):
    x = np.random.default_rng(0).normal(size=(3, 4)) + 0.1
    np.testing.assert_allclose(module(tg.Tensor(x)).numpy(), ref(x), rtol=1e-12)


@pytest.mark.parametrize(
    "module", [nn.Sigmoid(), nn.Tanh(), nn.ReLU()], ids=lambda m: type(m).__name__
)
def test_elementwise_activations_take_arrays_and_record_their_op_under_the_module(module):
    x = np.array([-1.5, 0.25, 2.0])
    np.testing.assert_array_equal(module(x).numpy(), module(tg.Tensor(x)).numpy())
    y = module(tg.Tensor(x, requires_grad=True))
    assert y.grad_fn.scope is module  # graph drawings group the op under its module
    y.sum().backward()


def test_activation_by_name():
    assert isinstance(nn.activation("relu"), nn.ReLU)
    for name, cls in [("leaky_relu", nn.LeakyReLU), ("elu", nn.ELU), ("gelu", nn.GELU)]:
        assert type(nn.activation(name)) is cls
    assert type(nn.activation("silu")) is nn.SiLU
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        nn.activation("swish")


@pytest.mark.parametrize("name", ["leaky_relu", "elu", "gelu", "silu"])
def test_mlp_with_a_relu_family_activation_uses_he_init_and_learns(name):
    m = nn.MLP([64, 32, 3], name, rng=0)
    assert type(m.layers[1]) is type(nn.activation(name))
    w = m.layers[0].weight.numpy()
    assert abs(w.std() - math.sqrt(2 / 64)) < 0.1 * math.sqrt(2 / 64)  # He
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((48, 64)).astype(np.float32), rng.integers(0, 3, 48)
    opt = tg.optim.SGD(m.parameters(), lr=0.1)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# --------------------------------------------------------------------------- Sequential, MLP
def test_sequential_indexing_iteration_and_append():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    s = nn.Sequential(a, b)
    s.append(c)
    assert len(s) == 3 and s[0] is a and s[-1] is c and list(s) == [a, b, c]
    assert isinstance(s[1:], nn.Sequential) and list(s[1:]) == [b, c]
    with pytest.raises(IndexError):
        s[3]
    named = nn.Sequential({"first": a, "act": b})
    assert [n for n, _ in named.named_children()] == ["first", "act"]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(a, "relu")


def test_mlp_architecture_and_init_per_activation():
    m = nn.MLP([784, 256, 128, 10], "relu", rng=0)
    assert m.architecture == "784-256-128-10"
    assert [type(x).__name__ for x in m.layers] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    w = m.layers[0].weight.numpy()
    assert abs(w.std() - math.sqrt(2 / 784)) < 0.1 * math.sqrt(2 / 784)  # He
    w_out = m.layers[4].weight.numpy()
    assert abs(w_out.std() - math.sqrt(2 / (128 + 10))) < 0.1 * math.sqrt(2 / 138)  # Glorot
    p = m.predict_proba(np.zeros((2, 784), dtype=np.float32))
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-6)
    with pytest.raises(ValueError, match="at least"):
        nn.MLP([3])
    with pytest.raises(ValueError, match="unknown activation"):
        nn.MLP([3, 2], "swish")


# --------------------------------------------------------------------------- init
@pytest.mark.parametrize(
    ("fn", "std"),
    [
        (init.xavier_uniform_, math.sqrt(2 / 300)),
        (init.xavier_normal_, math.sqrt(2 / 300)),
        (init.kaiming_uniform_, math.sqrt(2 / 200)),
        (init.kaiming_normal_, math.sqrt(2 / 200)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_init_scheme_statistics_and_seeding(fn, std):
    t = tg.zeros(200, 100)
    fn(t, rng=0)
    assert abs(t.numpy().std() - std) < 0.03 * std
    assert abs(t.numpy().mean()) < 0.03 * std
    u = tg.zeros(200, 100)
    fn(u, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(t.numpy(), u.numpy())
    assert t._version > 0 and t.dtype == np.float32


def test_init_helpers_and_errors():
    t = tg.ones(3)
    init.zeros_(t)
    assert not t.numpy().any()
    init.constant_(t, 2.5)
    assert (t.numpy() == 2.5).all()
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(tg.zeros(3))
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(tg.zeros(3, 3), mode="fan")
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        init.calculate_gain("nope")


# --------------------------------------------------------------------------- clipping
def test_clip_grad_norm_scales_all_grads_jointly():
    a = tg.Tensor(np.zeros(2), requires_grad=True)
    b = tg.Tensor(np.zeros(1), requires_grad=True)
    a.grad, b.grad = tg.Tensor(np.array([3.0, 0.0])), tg.Tensor(np.array([4.0]))
    total = clip_grad_norm_([a, b], max_norm=1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(a.grad.numpy(), [3 / (5 + 1e-6), 0], rtol=1e-9)
    np.testing.assert_allclose(b.grad.numpy(), [4 / (5 + 1e-6)], rtol=1e-9)
    assert clip_grad_norm_([a, b], max_norm=10.0) == pytest.approx(1.0, rel=1e-5)
    assert clip_grad_norm_([a, b], max_norm=1.0, norm_type=math.inf) == pytest.approx(0.8, rel=1e-5)
    b.grad = tg.Tensor(np.array([np.inf]))
    with pytest.raises(RuntimeError, match="total norm"):
        clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)


def test_clip_grad_value_():
    a = tg.Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    a.grad = tg.Tensor(np.array([-3.0, 0.5, 2.0], dtype=np.float32))
    clip_grad_value_(a, 1.0)
    np.testing.assert_array_equal(a.grad.numpy(), [-1.0, 0.5, 1.0])
    assert a.grad.dtype == np.float32
