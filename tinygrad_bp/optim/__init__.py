"""Optimizers with PyTorch's documented update rules, so trajectories match step for step.

Reading order:

1. ``optimizer.py``: ``Optimizer``, the base class: parameter groups, ``zero_grad``, ``step``
   and state dicts; a subclass writes one update rule.
2. ``sgd.py``: ``SGD`` (momentum, dampening, Nesterov, weight decay), the simplest rule.
3. ``adam.py``: ``Adam`` and ``AdamW``, running first and second moments with bias correction.
4. ``rmsprop.py``, ``adagrad.py``: ``RMSprop`` and ``Adagrad``, the per-element rates Adam grew
   out of.
5. ``lr_scheduler.py``: ``StepLR`` and ``CosineAnnealingLR``, which change the groups' ``lr``.

Updates run in place on the parameter arrays, outside the graph, and bump each parameter's
version counter (a graph that saved the old values then refuses to backward). Arithmetic stays
in the parameter's dtype.
"""

from tinygrad_bp.optim import lr_scheduler
from tinygrad_bp.optim.adagrad import Adagrad
from tinygrad_bp.optim.adam import Adam, AdamW
from tinygrad_bp.optim.optimizer import Optimizer
from tinygrad_bp.optim.rmsprop import RMSprop
from tinygrad_bp.optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
