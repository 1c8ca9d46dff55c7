"""``DataLoader``: mini-batches of Tensors (or arrays) from in-memory arrays, shuffled
reproducibly per epoch, with uint8 images scaled batch by batch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from tinygrad_bp.engine.tensor import _make

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over ``(x, y)`` in mini-batches: Tensors of float32 inputs and int64 labels.

    Args:
        x: inputs, shape (N, ...). uint8 arrays are scaled by 1/255 batch by batch (so the
            dataset itself can stay small); pass ``scale`` to choose another factor.
        y: labels, shape (N,), or None to yield inputs only.
        batch_size: samples per batch.
        shuffle: visit the samples in a new random order every epoch.
        seed: an int (epoch ``e`` is shuffled with ``default_rng([seed, e])``, so a resumed
            run sees the same orders as an uninterrupted one), a ``np.random.Generator``
            (used as it comes), or None (a random seed drawn once).
        drop_last: skip the last batch when it is smaller than ``batch_size``.
        tensors: yield Tensors (default) or plain ndarrays.
    """

    def __init__(
        self,
        x: npt.ArrayLike,
        y: npt.ArrayLike | None = None,
        batch_size: int = 64,
        shuffle: bool = False,
        seed: int | np.random.Generator | None = None,
        drop_last: bool = False,
        scale: float | None = None,
        dtype: npt.DTypeLike = np.float32,
        tensors: bool = True,
    ) -> None:
        self.x = np.asarray(x)
        self.y = None if y is None else np.asarray(y)
        if self.x.ndim == 0:
            raise ValueError("DataLoader: x needs a sample axis")
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(
                f"DataLoader: x has {len(self.x)} samples but y has {len(self.y)}; they must match"
            )
        if int(batch_size) <= 0:
            raise ValueError(f"DataLoader: batch_size must be positive, got {batch_size}")
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.dtype = np.dtype(dtype)
        if self.dtype.kind not in "biuf":
            raise TypeError(f"DataLoader: dtype must be numeric, got {self.dtype}")
        self.scale = (1.0 / 255 if self.x.dtype == np.uint8 else None) if scale is None else scale
        self.tensors = tensors
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        n, b = len(self.x), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose shuffle order the next iteration uses."""
        self.epoch = int(epoch)

    def order(self) -> np.ndarray | None:
        """The sample order of the current epoch (None: in order)."""
        if not self.shuffle:
            return None
        seed = self.seed
        rng = seed if isinstance(seed, np.random.Generator) else None
        if rng is None:
            rng = np.random.default_rng([int(seed), self.epoch])  # type: ignore[arg-type]
        return rng.permutation(len(self.x))

    def __iter__(self) -> Iterator[Any]:
        perm = self.order()
        self.epoch += 1
        x, y, scale, dtype = self.x, self.y, self.scale, self.dtype
        n, b = len(x), self.batch_size
        stop = n - n % b if self.drop_last else n
        for i in range(0, stop, b):
            sel = slice(i, i + b) if perm is None else perm[i : i + b]
            xb = x[sel]
            if scale is not None:
                xb = np.multiply(xb, scale, dtype=dtype)
            elif xb.dtype != dtype:
                xb = xb.astype(dtype)
            elif perm is None:  # a slice is a view of the caller's data: never hand it out
                xb = xb.copy()  # (an in-place `xb -= mean` would rewrite the dataset)
            out: Any = xb
            if self.tensors:  # xb is already a numeric array of the loader's dtype and its
                out = _make(xb, False)  # own copy: Tensor()'s checks and copy would add nothing
            if y is None:
                yield out
            else:
                yield out, (y[sel].copy() if perm is None else y[sel])
