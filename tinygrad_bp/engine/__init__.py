"""The autograd engine. Read it in this order (the README's "Read the engine" walks through it):

1. ``tensor_core.py`` then ``tensor.py``: a ``Tensor`` is an ndarray (``data``), a flag
   (``requires_grad``), a gradient (``grad``) and the node that made it (``_ctx``, None for a
   leaf); its methods are one line each (``def exp(self): return ops.Exp.apply(self)``);
   ``tensor_math.py`` holds those of the wider op set (trig, activations, scans, norms, pads...).
2. ``function.py``: ``Function``, one op with ``forward`` beside ``backward``, and its ONE
   ``apply``: run forward on the arrays and, when a gradient will be wanted, record the node
   (its parents, what backward reads).
3. ``walk.py``: ``run_backward``, the chain rule over the recorded graph, newest node first
   (``backward.py``: ``backward`` and ``grad``, its entry points).
4. ``ops/``: the primitive ops, the math in each docstring (then the wider set: elementwise,
   activation, scan, shape and linalg, mostly composed from the primitives).

Beside them, each in its own small module with a first-screen docstring saying what it adds:
``grad_mode.py`` (no_grad), ``versions.py`` (in-place checks), ``hooks.py`` (hooks,
retain_grad, tg.grad's capture, ``.grad`` storage), ``higher_order.py`` (create_graph),
``anomaly.py`` (NaN/Inf detection), ``inplace.py`` / ``numpy_interop.py`` / ``arrays.py`` /
``creation.py`` (Tensor's in-place updates, numpy protocols, constants, constructors).
The one speed module of the forward pass, ``fast_apply.py``, is ``apply`` written out for one
and two inputs (Tensor's operators and elementwise methods use it): skip it, it does what
``apply`` does.

Imports: ``tensor.py`` and the ops (and the walk) need each other (Tensor's methods call
them, they make Tensors); ``tensor.py`` imports them last, and that is the engine's one
cycle. Nothing in the engine imports ``nn``, ``optim`` or ``viz``.
"""

from tinygrad_bp.engine.tensor import Tensor  # noqa: I001  (first: the rest builds on it)
from tinygrad_bp.engine import ops
from tinygrad_bp.engine.creation import (
    arange,
    eye,
    from_numpy,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    uniform,
    zeros,
    zeros_like,
)
from tinygrad_bp.engine.function import Function
from tinygrad_bp.engine.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from tinygrad_bp.engine.higher_order import once_differentiable
from tinygrad_bp.engine.hooks import register_hook
from tinygrad_bp.engine.versions import bump_version, bump_versions, share_version
from tinygrad_bp.engine.backward import backward, grad
from tinygrad_bp.engine.walk import run_backward, sum_to, toposort

__all__ = [
    "Function",
    "Tensor",
    "arange",
    "backward",
    "bump_version",
    "bump_versions",
    "enable_grad",
    "eye",
    "from_numpy",
    "full",
    "grad",
    "is_grad_enabled",
    "no_grad",
    "once_differentiable",
    "ones",
    "ones_like",
    "ops",
    "rand",
    "randn",
    "register_hook",
    "run_backward",
    "set_grad_enabled",
    "share_version",
    "sum_to",
    "tensor",
    "toposort",
    "uniform",
    "zeros",
    "zeros_like",
]
