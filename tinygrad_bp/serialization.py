"""Saving and loading state: ``save``/``load`` of nested dicts of arrays (model and optimizer
state, metadata) as ``.npz`` files, and ``save_checkpoint``/``load_checkpoint``.

Arrays are stored under dotted names (``model.layers.0.weight``,
``optimizer.state.0.momentum_buffer``); everything else (numbers, strings, lists, the
structure itself) goes into a JSON manifest that also records each array's shape, dtype and
SHA-256. Files are written to a temporary file and renamed into place, and read with
``allow_pickle=False``: loading never executes code, and a truncated, tampered or foreign
file is rejected with ``CheckpointError``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_bp.engine.tensor import Tensor
from tinygrad_bp.idx import atomic_write_bytes

__all__ = ["CheckpointError", "load", "load_checkpoint", "save", "save_checkpoint"]

_MANIFEST = "__manifest__"
_FORMAT = "tinygrad_bp.serialization"
_VERSION = 1


class CheckpointError(ValueError):
    """A file is not a valid tinygrad_bp checkpoint (truncated, tampered or foreign)."""


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


class _Packer:
    """Turns a nested value into a JSON tree plus named arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def name(self, path: list[str]) -> str:
        base = ".".join(path).replace("/", "_") or "value"
        name, i = base, 1
        while name in self.arrays or name == _MANIFEST:
            name, i = f"{base}~{i}", i + 1
        return name

    def pack(self, v: Any, path: list[str]) -> Any:
        if isinstance(v, Tensor):
            v = v.data
        if isinstance(v, np.generic):
            v = np.asarray(v)
        if isinstance(v, np.ndarray):
            if v.dtype.kind not in "biufc":
                raise TypeError(
                    f"save: {'.'.join(path) or 'value'} has dtype {v.dtype}; only numeric and "
                    "bool arrays can be saved (no objects or strings)"
                )
            name = self.name(path)
            self.arrays[name] = v
            return {"__array__": name}
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, tuple):
            return {"__tuple__": [self.pack(x, [*path, str(i)]) for i, x in enumerate(v)]}
        if isinstance(v, list):
            return [self.pack(x, [*path, str(i)]) for i, x in enumerate(v)]
        if isinstance(v, Mapping):
            plain = all(isinstance(k, str) and not k.startswith("__") for k in v)
            if plain:
                return {k: self.pack(x, [*path, k]) for k, x in v.items()}
            items = []
            for k, x in v.items():
                if not isinstance(k, (str, int, bool)) and k is not None:
                    raise TypeError(f"save: dict key {k!r} at {'.'.join(path)} is not str or int")
                items.append([k, self.pack(x, [*path, str(k)])])
            return {"__dict__": items}
        raise TypeError(
            f"save: cannot store {type(v).__name__} at {'.'.join(path) or 'top level'}; use "
            "arrays, numbers, strings, None, lists, tuples and dicts"
        )


def save(path: str | os.PathLike[str], obj: Any, compress: bool = False) -> None:
    """Write ``obj`` (nested dicts/lists/tuples of arrays, Tensors, numbers, strings) to
    ``path`` as ``.npz``, atomically."""
    packer = _Packer()
    tree = packer.pack(obj, [])
    manifest = {
        "format": _FORMAT,
        "version": _VERSION,
        "tree": tree,
        "arrays": {
            k: {"shape": list(a.shape), "dtype": a.dtype.str, "sha256": _digest(a)}
            for k, a in packer.arrays.items()
        },
    }
    blob = np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    entries: dict[str, Any] = {_MANIFEST: blob, **packer.arrays}
    (np.savez_compressed if compress else np.savez)(buf, **entries)
    atomic_write_bytes(Path(path), buf.getvalue())


def _unpack(v: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if isinstance(v, list):
        return [_unpack(x, arrays) for x in v]
    if isinstance(v, dict):
        if set(v) == {"__array__"}:
            return arrays[v["__array__"]]
        if set(v) == {"__tuple__"}:
            return tuple(_unpack(x, arrays) for x in v["__tuple__"])
        if set(v) == {"__dict__"}:
            return {k: _unpack(x, arrays) for k, x in v["__dict__"]}
        return {k: _unpack(x, arrays) for k, x in v.items()}
    return v


def _refs(v: Any, out: list[str]) -> list[str]:
    if isinstance(v, list):
        for x in v:
            _refs(x, out)
    elif isinstance(v, dict):
        if set(v) == {"__array__"}:
            out.append(v["__array__"])
        else:
            for x in v.values():
                _refs(x, out)
    return out


def load(path: str | os.PathLike[str]) -> Any:
    """Read a file written by ``save``, checking every array's shape, dtype and SHA-256.

    Raises:
        CheckpointError: the file is truncated, tampered with, holds pickled objects, or was
            not written by ``save``.
    """
    p = Path(path)
    where = f"load({str(p)!r})"
    try:
        with np.load(p, allow_pickle=False) as npz:
            names = set(npz.files)
            if _MANIFEST not in names:
                raise CheckpointError(
                    f"{where}: no manifest: not a file written by tinygrad_bp's save()"
                )
            manifest = json.loads(npz[_MANIFEST].tobytes().decode())
            if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
                raise CheckpointError(f"{where}: the manifest is not a tinygrad_bp manifest")
            if manifest.get("version") != _VERSION:
                raise CheckpointError(
                    f"{where}: format version {manifest.get('version')}, this tinygrad_bp "
                    f"reads version {_VERSION}"
                )
            specs = manifest["arrays"]
            extra = names - set(specs) - {_MANIFEST}
            missing = set(specs) - names
            if extra or missing:
                raise CheckpointError(
                    f"{where}: entries do not match the manifest (unexpected: "
                    f"{sorted(extra)}, missing: {sorted(missing)})"
                )
            refs = _refs(manifest["tree"], [])
            if set(refs) != set(specs):
                raise CheckpointError(f"{where}: the manifest's tree and array list disagree")
            arrays: dict[str, np.ndarray] = {}
            for name, spec in specs.items():
                a = npz[name]
                if a.dtype.str != spec["dtype"] or list(a.shape) != spec["shape"]:
                    raise CheckpointError(
                        f"{where}: {name} is {a.dtype.str} {a.shape}, the manifest says "
                        f"{spec['dtype']} {tuple(spec['shape'])}"
                    )
                if _digest(a) != spec["sha256"]:
                    raise CheckpointError(f"{where}: {name} fails its SHA-256 check (tampered?)")
                arrays[name] = a
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, TypeError) as e:
        # truncated or corrupt zip, bad CRC, pickled object arrays, malformed manifest
        raise CheckpointError(f"{where}: unreadable or corrupt checkpoint: {e}") from e
    return _unpack(manifest["tree"], arrays)


def save_checkpoint(
    path: str | os.PathLike[str],
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    meta: Mapping[str, Any] | None = None,
) -> None:
    """Save ``model`` (and optimizer/scheduler) state plus JSON-able ``meta`` such as the
    architecture and the epoch, under the keys model, optimizer, scheduler and meta."""
    payload: dict[str, Any] = {"model": model.state_dict(), "meta": dict(meta or {})}
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        payload["scheduler"] = scheduler.state_dict()
    save(path, payload)


def load_checkpoint(
    path: str | os.PathLike[str], model: Any = None, optimizer: Any = None, scheduler: Any = None
) -> dict[str, Any]:
    """Read a checkpoint; load its states into the given objects; return the whole dict."""
    data = load(path)
    if not isinstance(data, dict) or "model" not in data:
        raise CheckpointError(f"load_checkpoint({str(path)!r}): no 'model' entry in the file")
    if model is not None:
        model.load_state_dict(data["model"])
    for obj, key in ((optimizer, "optimizer"), (scheduler, "scheduler")):
        if obj is not None:
            if key not in data:
                raise CheckpointError(f"load_checkpoint({str(path)!r}): no {key!r} entry")
            obj.load_state_dict(data[key])
    return data
