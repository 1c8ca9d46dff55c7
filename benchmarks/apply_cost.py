"""What one general ``Function.apply`` costs next to ``apply_one``/``apply_two``
(engine/fast_apply.py: the same, written out for one and two inputs), on this machine.

    python benchmarks/apply_cost.py           # per op: Tanh (one input), Mul (x * 2)
    python benchmarks/apply_cost.py --chain   # the overhead workload's chain, both ways

``Function.apply`` takes any inputs and keyword arguments: Python packs them (``*args,
**kwargs``), apply loops over them to collect each input's array, node and whether it needs a
gradient, and calls ``forward(ctx, *arrays, **kwargs)``. ``apply_one`` and ``apply_two`` do
the same steps for one Tensor, or two inputs, with no packing, loop or star-call. Before
timing, the script checks that both record the same node (tests/test_fast_apply.py checks
every op Tensor routes through them).

``--chain`` times the 1,000-op chain of ``python -m benchmarks --workloads overhead`` as
shipped (its four Tensor methods, ``*``, ``+``, ``tanh`` and ``sigmoid``, go through
``apply_one``/``apply_two``) and with those methods sent through ``Function.apply`` instead,
interleaved in one process.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one BLAS thread, as the benchmark suite

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import tinygrad_bp as tg  # noqa: E402
from benchmarks.ab_trees import _timeit  # noqa: E402 (interleaved medians)
from tinygrad_bp.engine import ops  # noqa: E402
from tinygrad_bp.engine.arrays import _const  # noqa: E402
from tinygrad_bp.engine.fast_apply import apply_one, apply_two  # noqa: E402
from tinygrad_bp.engine.tensor import Tensor  # noqa: E402

_FIELDS = ("needs_input_grad", "out_shape", "out_dtype", "stamp", "kwargs", "saved_tensors")


def check_same_nodes() -> None:
    """Raise unless both ways record the same node (so the timing compares like with like)."""
    x = tg.Tensor(np.linspace(-1, 1, 5), requires_grad=True)
    two = _const(2.0, x)
    for op, args in ((ops.Tanh, (x,)), (ops.Sigmoid, (x,)), (ops.Mul, (x, two)), (ops.Add, (x, x))):
        a = op.apply(*args)
        b = apply_one(op, *args) if len(args) == 1 else apply_two(op, *args)
        na, nb = a.grad_fn, b.grad_fn
        assert type(na) is type(nb) and na.parents == nb.parents, op.__name__
        for f in _FIELDS:
            assert getattr(na, f) == getattr(nb, f), (op.__name__, f)
        for f in ("inputs", "input_tensors"):
            va, vb = getattr(na, f), getattr(nb, f)
            assert (va is None) == (vb is None), (op.__name__, f)
            if va is not None:
                assert all(p is q for p, q in zip(va, vb)) and len(va) == len(vb), op.__name__
        assert (na.out is None) == (nb.out is None) and np.array_equal(a.data, b.data)
        assert (a._version_counter is None) == (b._version_counter is None), op.__name__


def per_op(samples: int) -> None:
    print("| op | elements | apply (us) | apply_one/apply_two (us) | apply costs |")
    print("|---|---|---|---|---|")
    for size in (1, 100):
        x = tg.Tensor(np.random.default_rng(0).standard_normal(size), requires_grad=True)
        two = _const(2.0, x)
        for name, general, special in (
            ("tanh", lambda x=x: ops.Tanh.apply(x), lambda x=x: apply_one(ops.Tanh, x)),
            (
                "x * 2",
                lambda x=x, two=two: ops.Mul.apply(x, two),
                lambda x=x, two=two: apply_two(ops.Mul, x, two),
            ),
        ):
            t_general, t_special = _timeit(general, special, samples=samples)
            print(
                f"| {name} | {size} | {t_general * 1e6:.3f} | {t_special * 1e6:.3f} | "
                f"+{(t_general - t_special) * 1e6:.2f} us ({t_general / t_special:.2f}x) |"
            )


def chain(samples: int) -> None:
    from benchmarks.impls import tinygrad_bp as impl

    methods = {name: getattr(Tensor, name) for name in ("__mul__", "__add__", "tanh", "sigmoid")}
    through_apply = {
        "__mul__": lambda self, other: ops.Mul.apply(self, _const(other, self)),
        "__add__": lambda self, other: ops.Add.apply(self, _const(other, self)),
        "tanh": lambda self: ops.Tanh.apply(self),
        "sigmoid": lambda self: ops.Sigmoid.apply(self),
    }

    def run(routes: dict[str, Any], x0: np.ndarray) -> None:
        for name, fn in routes.items():
            setattr(Tensor, name, fn)
        try:
            impl.chain(x0, 1000)
        finally:
            for name, fn in methods.items():
                setattr(Tensor, name, fn)

    print("| chain, 1,000 ops | through apply (us/op) | as shipped (us/op) | ratio |")
    print("|---|---|---|---|")
    for size in (1, 100, 10_000):
        x0 = np.random.default_rng(size).standard_normal(size).astype(np.float32)
        t_general, t_special = _timeit(
            lambda x0=x0: run(through_apply, x0), lambda x0=x0: run(methods, x0), samples=samples
        )
        print(
            f"| {size} elements | {t_general * 1e3:.3f} | {t_special * 1e3:.3f} | "
            f"{t_general / t_special:.3f} |"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chain", action="store_true", help="time the overhead workload's chain")
    p.add_argument("--samples", type=int, default=15)
    args = p.parse_args()
    check_same_nodes()
    from threadpoolctl import threadpool_info

    blas = ", ".join(
        f"{b.get('internal_api')} {b.get('version')} ({b.get('num_threads')} threads)"
        for b in threadpool_info()
    )
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}, BLAS {blas}\n")
    (chain if args.chain else per_op)(args.samples)


if __name__ == "__main__":
    main()
