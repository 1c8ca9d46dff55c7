"""The workloads: each one checks every implementation against the hand-written numpy
reference on fixed seeds, then times those that passed, interleaved.

``overhead``  1,000-op elementwise chain (``*2``, ``+(-1)``, ``tanh``, ``*2``, ``sigmoid``), then
              ``sum()`` and backward, from a fresh leaf; us per op at 1 / 100 / 10,000 elements.
``mlp_step``  784-100-10 sigmoid, softmax cross-entropy with int labels, SGD momentum 0.9:
              zero_grad + forward + backward + step, ms at batch 1 / 32 / 128 / 1024, next to
              the "BLAS ideal" (the step's matmul FLOPs at the measured sgemm rate).
``epoch``     one epoch of that network over 60,000 Fashion-MNIST samples (random data of the
              same shape when Debian's dataset-fashion-mnist is absent), batch 64, s.
``scaling``   backward alone of chains of 10^3 .. 10^6 ops at 1 element, us per op: it must be
              linear (10^6 only in full mode; each implementation up to what its memory allows).
``draw``      building the graphviz Digraph of a 1,000-op graph (tinygrad_bp only), ms.
``cnn_step``  a LeNet-style CNN on 28x28 images (conv 5x5 16 -> ReLU -> max-pool 2, conv 5x5 32
              -> ReLU -> max-pool 2, dense 128 -> ReLU -> dense 10), cross-entropy, SGD momentum:
              zero_grad + forward + backward + step at batch 64, ms (checked against PyTorch).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from benchmarks.harness import Case, Result, interleave
from benchmarks.impls import numpy_hand as reference

NAMES = ("overhead", "mlp_step", "epoch", "scaling", "draw", "cnn_step")
LR, MOMENTUM = 0.1, 0.9


@dataclass
class Config:
    """Sizes and sample counts; ``Config.full()`` / ``Config.quick()`` are the CLI's two modes."""

    samples: int = 20
    warmup: int = 2
    min_sample_s: float = 0.02
    chain_ops: int = 1000
    overhead_sizes: tuple[int, ...] = (1, 100, 10_000)
    mlp_sizes: tuple[int, int, int] = (784, 100, 10)
    batches: tuple[int, ...] = (1, 32, 128, 1024)
    epoch_samples: int = 60_000
    epoch_batch: int = 64
    epoch_check_samples: int = 1024
    scaling_ops: tuple[int, ...] = (10**3, 10**4, 10**5, 10**6)
    draw_blocks: int = 200
    gflops: float = float("nan")  # measured sgemm rate, for the BLAS ideal
    fashion: bool = True  # use Debian's Fashion-MNIST when present
    cnn_image: int = 28  # the CNN's square one-channel images
    cnn_channels: tuple[int, int] = (16, 32)
    cnn_hidden: int = 128
    cnn_batches: tuple[int, ...] = (64,)

    @classmethod
    def full(cls, samples: int = 20) -> Config:
        return cls(samples=samples)

    @classmethod
    def quick(cls, samples: int = 5) -> Config:
        return cls(
            samples=samples,
            warmup=1,
            min_sample_s=0.005,
            epoch_samples=6_400,
            scaling_ops=(10**3, 10**4, 10**5),
        )


@dataclass
class Outcome:
    """What a workload produced: timings, correctness checks, extra columns and notes."""

    results: list[Result] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, dict[str, str]] = field(default_factory=dict)  # row -> {column: text}
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- checking
class Mismatch(AssertionError):
    """An implementation computed different numbers from the reference."""


def compare(what: str, got: Any, ref: Any, tol: float = 1e-4) -> None:
    """Normwise float32 comparison: max |got - ref| <= tol * max(|ref|, 1e-3 scale)."""
    g = np.asarray(got, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    if g.shape != r.shape:
        raise Mismatch(f"{what}: shape {g.shape}, expected {r.shape}")
    if not np.all(np.isfinite(g)):
        raise Mismatch(f"{what}: non-finite values")
    err = float(np.max(np.abs(g - r))) if r.size else 0.0
    scale = max(float(np.max(np.abs(r))) if r.size else 0.0, 1e-3)
    if err > tol * scale:
        raise Mismatch(f"{what}: max abs error {err:.3g} > {tol:g} x {scale:.3g}")


def _run_checked(
    out: Outcome,
    workload: str,
    row: str,
    impls: dict[str, ModuleType],
    check: Callable[[ModuleType], None],
) -> dict[str, ModuleType]:
    """Check each implementation; returns those that passed (mismatches are reported)."""
    passed = {}
    for key, m in impls.items():
        try:
            check(m)
        except Exception as e:  # a crash is reported like a mismatch, not timed
            out.checks.append(
                {"workload": workload, "row": row, "impl": m.NAME, "ok": False, "error": str(e)}
            )
            out.notes.append(f"{workload} {row}: {m.NAME} NOT TIMED: {type(e).__name__}: {e}")
            continue
        out.checks.append({"workload": workload, "row": row, "impl": m.NAME, "ok": True})
        passed[key] = m
    return passed


def _eligible(impls: dict[str, ModuleType], workload: str, size: int) -> dict[str, ModuleType]:
    return {k: m for k, m in impls.items() if m.supports(workload, size)}


# --------------------------------------------------------------------------- overhead
def overhead(impls: dict[str, ModuleType], cfg: Config) -> Outcome:
    out = Outcome()
    for size in cfg.overhead_sizes:
        _overhead_row(out, impls, cfg, size)
    return out


def _overhead_row(out: Outcome, impls: dict[str, ModuleType], cfg: Config, size: int) -> None:
    n = cfg.chain_ops
    row = f"{size:,} element{'s' if size > 1 else ''}"
    x0 = np.random.default_rng(size).standard_normal(size).astype(np.float32)
    ref_loss, ref_grad = reference.chain(x0, n)

    def check(m: ModuleType) -> None:
        loss, grad = m.chain(x0, n)
        compare("loss", loss, ref_loss)
        compare("grad", grad, ref_grad)

    ok = _run_checked(out, "overhead", row, _eligible(impls, "overhead", size), check)
    cases = [Case(m.NAME, lambda m=m: lambda: m.chain(x0, n), 1e6 / n) for m in ok.values()]
    out.results += interleave(
        "overhead", row, "us/op", cases, cfg.samples, cfg.warmup, cfg.min_sample_s
    )


# --------------------------------------------------------------------------- MLP
def init_params(sizes: tuple[int, int, int], seed: int = 0) -> list[np.ndarray]:
    """Glorot-uniform weights (in, out) and small random biases, float32."""
    rng = np.random.default_rng(seed)
    n_in, n_hid, n_out = sizes
    out = []
    for a, b in ((n_in, n_hid), (n_hid, n_out)):
        lim = np.sqrt(6.0 / (a + b))
        out.append(rng.uniform(-lim, lim, (a, b)).astype(np.float32))
        out.append(rng.uniform(-0.1, 0.1, b).astype(np.float32))
    return out


def batch(sizes: tuple[int, int, int], n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random inputs in [0, 1) (float32) and int64 labels."""
    rng = np.random.default_rng([seed, n])
    return rng.random((n, sizes[0]), dtype=np.float32), rng.integers(0, sizes[2], n)


def matmul_flops(sizes: tuple[int, int, int], n: int) -> int:
    """FLOPs of one training step's matmuls: forward x@W1, h@W2; backward h^T@g, g@W2^T,
    x^T@dh (no gradient for the input)."""
    n_in, n_hid, n_out = sizes
    return 2 * n * (2 * n_in * n_hid + 3 * n_hid * n_out)


def check_mlp(m: ModuleType, sizes: tuple[int, int, int], n: int, steps: int = 3) -> None:
    """``steps`` training steps from the same weights on fixed batches: same losses, same
    gradients (first step) and same weights after every step as the reference."""
    params = init_params(sizes)
    mine, ref = m.Mlp(params, LR, MOMENTUM), reference.Mlp(params, LR, MOMENTUM)
    for s in range(steps):
        x, y = batch(sizes, n, seed=s)
        compare(f"loss at step {s + 1}", mine.step(x, y), ref.step(x, y))
        names = ("w1", "b1", "w2", "b2")
        if s == 0:
            for name, g, r in zip(names, mine.grads(), ref.grads()):
                compare(f"grad {name} at step 1", g, r)
        for name, w, r in zip(names, mine.weights(), ref.weights()):
            compare(f"{name} after step {s + 1}", w, r)


def _stepper(
    m: ModuleType, params: list[np.ndarray], batches: list[tuple[np.ndarray, np.ndarray]]
) -> Callable[[], Callable[[], Any]]:
    """A ``Case.make``: a fresh model from ``params`` (untimed) whose steps cycle through
    ``batches``. Every sample starts from the same weights and sees new batches, so no sample
    times a model that has memorised one batch (zero gradients, denormals)."""

    def make() -> Callable[[], Any]:
        model = m.Mlp(params, LR, MOMENTUM)
        it = itertools.cycle(batches)
        return lambda: model.step(*next(it))

    return make


def mlp_step(impls: dict[str, ModuleType], cfg: Config) -> Outcome:
    out = Outcome()
    for n in cfg.batches:
        _mlp_row(out, impls, cfg, n)
    return out


def _mlp_row(out: Outcome, impls: dict[str, ModuleType], cfg: Config, n: int) -> None:
    sizes = cfg.mlp_sizes
    row = f"B={n}"
    eligible = _eligible(impls, "mlp_step", n)
    ok = _run_checked(out, "mlp_step", row, eligible, lambda m: check_mlp(m, sizes, n))
    batches = [batch(sizes, n, seed=100 + k) for k in range(8)]
    params = init_params(sizes)
    cases = [Case(m.NAME, _stepper(m, params, batches), 1e3) for m in ok.values()]
    out.results += interleave(
        "mlp_step", row, "ms", cases, cfg.samples, cfg.warmup, cfg.min_sample_s
    )
    ideal = matmul_flops(sizes, n) / (cfg.gflops * 1e9) * 1e3
    out.extra[row] = {"BLAS ideal": f"{ideal:.3g}"}


# --------------------------------------------------------------------------- epoch
def epoch_data(cfg: Config) -> tuple[np.ndarray, np.ndarray, str]:
    """Fashion-MNIST training images (float32 in [0, 1], int64 labels) when installed, else
    random data of the same shape; the first ``cfg.epoch_samples`` samples."""
    n_in, _, n_out = cfg.mlp_sizes
    if cfg.fashion and (n_in, n_out) == (784, 10):
        try:
            from tinygrad_bp.data import load_fashion_mnist

            ds = load_fashion_mnist()
            n = cfg.epoch_samples
            return ds.x_train[:n], ds.y_train[:n], "Fashion-MNIST"
        except (FileNotFoundError, ImportError):
            pass
    rng = np.random.default_rng(7)
    x = rng.random((cfg.epoch_samples, n_in), dtype=np.float32)
    return x, rng.integers(0, n_out, cfg.epoch_samples), "random data (Fashion-MNIST shape)"


def _epocher(
    m: ModuleType, params: list[np.ndarray], x: np.ndarray, y: np.ndarray, batch_size: int
) -> Callable[[], Callable[[], Any]]:
    """A ``Case.make``: a fresh model (untimed), then one epoch; every sample is epoch 1."""

    def make() -> Callable[[], Any]:
        model = m.Mlp(params, LR, MOMENTUM)
        return lambda: m.epoch(model, x, y, batch_size, 0)

    return make


def epoch(impls: dict[str, ModuleType], cfg: Config) -> Outcome:
    out = Outcome()
    x, y, source = epoch_data(cfg)
    row = f"{len(x):,} samples, B={cfg.epoch_batch}"
    out.notes.append(f"epoch: {source}")
    params = init_params(cfg.mlp_sizes)
    k = min(cfg.epoch_check_samples, len(x))
    ref_model = reference.Mlp(params, LR, MOMENTUM)
    ref_loss = reference.epoch(ref_model, x[:k], y[:k], cfg.epoch_batch, 0)

    def check(m: ModuleType) -> None:  # a short epoch from the same weights, same order
        model = m.Mlp(params, LR, MOMENTUM)
        compare("mean loss", m.epoch(model, x[:k], y[:k], cfg.epoch_batch, 0), ref_loss)
        for name, w, r in zip(("w1", "b1", "w2", "b2"), model.weights(), ref_model.weights()):
            compare(f"{name} after {k} samples", w, r, tol=1e-3)

    ok = _run_checked(out, "epoch", row, _eligible(impls, "epoch", len(x)), check)
    cases = [Case(m.NAME, _epocher(m, params, x, y, cfg.epoch_batch), 1) for m in ok.values()]
    out.results += interleave("epoch", row, "s", cases, cfg.samples, 1, 0.0)
    return out


# --------------------------------------------------------------------------- scaling
def scaling(impls: dict[str, ModuleType], cfg: Config) -> Outcome:
    out = Outcome()
    x0 = np.array([0.5], dtype=np.float32)
    ops = sorted(cfg.scaling_ops)
    for n in ops:
        row = f"{n:,} ops"
        eligible = _eligible(impls, "scaling", n)
        if n == ops[0]:  # one correctness check, on the smallest graph
            _, ref_grad = reference.chain(x0, n)

            def check(m: ModuleType, n: int = n, ref_grad: np.ndarray = ref_grad) -> None:
                compare("grad", m.build_chain(x0, n)(), ref_grad)

            ok = _run_checked(out, "scaling", row, eligible, check)
        else:
            ok = {k: m for k, m in eligible.items() if k in ok}
        # a sample is one backward of a freshly built graph: fewer samples for the big ones
        samples = cfg.samples if n <= 10**4 else max(3, cfg.samples // (4 if n <= 10**5 else 7))
        cases = [
            Case(m.NAME, lambda m=m, n=n: m.build_chain(x0, n), 1e6 / n, repeat_ok=False)
            for m in ok.values()
        ]
        out.results += interleave("scaling", row, "us/op", cases, samples, 1, 0.0)
    return out


# --------------------------------------------------------------------------- draw
def draw(impls: dict[str, ModuleType], cfg: Config) -> Outcome:
    out = Outcome()
    for key, m in _eligible(impls, "draw", cfg.draw_blocks).items():
        _draw_one(out, key, m, cfg)
    return out


def _draw_one(out: Outcome, key: str, m: ModuleType, cfg: Config) -> None:
    loss, params = m.residual_net(cfg.draw_blocks)
    row = f"{5 * cfg.draw_blocks + 1:,}-op graph"

    def check(m: ModuleType) -> None:
        found = m.draw(loss, params).source.count("Tanh")
        if found < cfg.draw_blocks:
            raise Mismatch(f"drew {found} Tanh nodes, expected {cfg.draw_blocks}")

    ok = _run_checked(out, "draw", row, {key: m}, check)
    cases = [Case(m.NAME, lambda m=m: lambda: m.draw(loss, params), 1e3) for m in ok.values()]
    out.results += interleave("draw", row, "ms", cases, cfg.samples, cfg.warmup, 0.0)


# --------------------------------------------------------------------------- CNN
CNN_LR = 0.01


def cnn_params(cfg: Config, seed: int = 0) -> list[np.ndarray]:
    """The CNN's weights, float32, PyTorch's layouts except the dense ones, stored (in, out):
    [conv1 (C1, 1, 5, 5), b, conv2 (C2, C1, 5, 5), b, dense (C2*S*S, H), b, out (H, 10), b]."""
    rng = np.random.default_rng(seed)
    c1, c2 = cfg.cnn_channels
    side = cfg.cnn_image // 4
    shapes = [
        (c1, 1, 5, 5),
        (c2, c1, 5, 5),
        (c2 * side * side, cfg.cnn_hidden),
        (cfg.cnn_hidden, 10),
    ]
    out = []
    for shape in shapes:
        fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
        lim = 1 / np.sqrt(fan_in)
        n_out = shape[0] if len(shape) == 4 else shape[1]
        out.append(rng.uniform(-lim, lim, shape).astype(np.float32))
        out.append(rng.uniform(-lim, lim, n_out).astype(np.float32))
    return out


def cnn_batch(cfg: Config, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST-like input: random images in [0, 1) (float32) and int64 labels."""
    rng = np.random.default_rng([seed, n, 16])
    s = cfg.cnn_image
    return rng.random((n, 1, s, s), dtype=np.float32), rng.integers(0, 10, n)


def check_cnn(m: ModuleType, ref: ModuleType, cfg: Config, n: int, steps: int = 2) -> None:
    """Two steps from the same weights: the same losses, first-step gradients and weights."""
    params = cnn_params(cfg)
    mine, theirs = m.Cnn(params, CNN_LR, MOMENTUM), ref.Cnn(params, CNN_LR, MOMENTUM)
    for s in range(steps):
        x, y = cnn_batch(cfg, n, seed=s)
        compare(f"loss at step {s + 1}", mine.step(x, y), theirs.step(x, y))
        if s == 0:
            for k, (g, r) in enumerate(zip(mine.grads(), theirs.grads())):
                compare(f"grad {k} at step 1", g, r, tol=1e-3)
        for k, (w, r) in enumerate(zip(mine.weights(), theirs.weights())):
            compare(f"weight {k} after step {s + 1}", w, r, tol=1e-3)


def cnn_step(impls: dict[str, ModuleType], cfg: Config) -> Outcome:
    out = Outcome()
    # no hand-written numpy CNN: PyTorch is the reference when installed
    ref = impls.get("torch") or impls.get("tinygrad_bp")
    if ref is None:
        return out
    if ref is not impls.get("torch"):
        out.notes.append("cnn_step: PyTorch not installed, checked against tinygrad_bp")
    for n in cfg.cnn_batches:
        _cnn_row(out, impls, cfg, n, ref)
    return out


def _cnn_row(
    out: Outcome, impls: dict[str, ModuleType], cfg: Config, n: int, ref: ModuleType
) -> None:
    row = f"B={n}"
    eligible = _eligible(impls, "cnn_step", n)
    ok = _run_checked(out, "cnn_step", row, eligible, lambda m: check_cnn(m, ref, cfg, n))
    batches = [cnn_batch(cfg, n, seed=100 + k) for k in range(4)]
    params = cnn_params(cfg)

    def make(m: ModuleType) -> Callable[[], Callable[[], Any]]:
        def fresh() -> Callable[[], Any]:
            model = m.Cnn(params, CNN_LR, MOMENTUM)
            it = itertools.cycle(batches)
            return lambda: model.step(*next(it))

        return fresh

    cases = [Case(m.NAME, make(m), 1e3) for m in ok.values()]
    out.results += interleave(
        "cnn_step", row, "ms", cases, cfg.samples, cfg.warmup, cfg.min_sample_s
    )


RUNNERS: dict[str, Callable[[dict[str, ModuleType], Config], Outcome]] = {
    "overhead": overhead,
    "mlp_step": mlp_step,
    "epoch": epoch,
    "scaling": scaling,
    "draw": draw,
    "cnn_step": cnn_step,
}
TITLES = {
    "overhead": "1,000-op elementwise chain, forward + backward",
    "mlp_step": "784-100-10 sigmoid MLP, zero_grad + forward + backward + SGD momentum step",
    "epoch": "one epoch, 784-100-10 sigmoid MLP, SGD momentum 0.9 lr 0.1",
    "scaling": "backward alone of an n-op chain at 1 element",
    "draw": "draw_graph (build the Digraph, no dot) of 200 residual blocks, every node",
    "cnn_step": "LeNet-style CNN (conv-relu-pool x2, dense-relu, dense), zero_grad + forward + "
    "backward + SGD momentum step",
}
