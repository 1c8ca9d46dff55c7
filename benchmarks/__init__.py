"""The benchmark suite: tinygrad_bp against hand-written numpy backprop, PyTorch eager, MyGrad,
HIPS autograd and micrograd, one command::

    python -m benchmarks [--impls ...] [--workloads ...] [--threads 1] [--quick] [--out DIR]

This package must not import numpy at import time: ``run.main`` sets the BLAS/OpenMP thread
variables first. pytest never collects it (``testpaths = ["tests"]``).
"""

# the thread-count variables of OpenMP, OpenBLAS, MKL, Accelerate and numexpr
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
