"""The IDX file format of MNIST and Fashion-MNIST: ``read_idx`` and ``write_idx``, plain or
gzip-compressed, with every header field validated.

Layout: two zero bytes, a dtype code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
0x0D float32, 0x0E float64), the number of dimensions, each dimension as a big-endian uint32,
then the values in C order, big-endian.
"""

from __future__ import annotations

import gzip
import os
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IDXError", "atomic_write_bytes", "parse_idx", "read_idx", "write_idx"]

_CODES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_DIMS = 16


class IDXError(ValueError):
    """An IDX file is truncated, corrupt or not IDX at all."""


def parse_idx(raw: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an (uncompressed) IDX file into an array in native byte order."""
    if len(raw) < 4:
        raise IDXError(f"{source}: {len(raw)} bytes is too short for an IDX header (4 bytes)")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0:
        raise IDXError(
            f"{source}: bad magic number 0x{raw[:4].hex()}: an IDX file starts with two zero "
            "bytes (is it compressed with something other than gzip, or not IDX?)"
        )
    if code not in _CODES:
        raise IDXError(
            f"{source}: unknown dtype code 0x{code:02x}; IDX defines "
            + ", ".join(f"0x{c:02x}" for c in _CODES)
        )
    if not 1 <= ndim <= _MAX_DIMS:
        raise IDXError(f"{source}: {ndim} dimensions in the header; expected 1 to {_MAX_DIMS}")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise IDXError(
            f"{source}: truncated header: {ndim} dimensions need {head} bytes, file has {len(raw)}"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:head])
    dtype = _CODES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - head
    if got < expected:
        raise IDXError(
            f"{source}: truncated: shape {dims} of {dtype.name} needs {expected} bytes of data, "
            f"found {got}"
        )
    if got > expected:
        raise IDXError(
            f"{source}: {got - expected} unexpected trailing bytes after {expected} bytes of data "
            f"for shape {dims}"
        )
    arr = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=head)
    return arr.reshape(dims).astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzip-compressed or not: detected from its first bytes)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"read_idx: no such file: {p}") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise IDXError(f"{p}: corrupt or truncated gzip data: {e}") from e
    return parse_idx(raw, str(p))


def write_idx(
    path: str | os.PathLike[str], array: np.ndarray, compress: bool | None = None
) -> None:
    """Write ``array`` as IDX (gzip-compressed when ``compress`` or the name ends in .gz),
    atomically: a temporary file in the same directory is renamed over ``path``."""
    a = np.asarray(array)
    code = next(
        (c for c, dt in _CODES.items() if dt.newbyteorder("=") == a.dtype.newbyteorder("=")),
        None,
    )
    if code is None:
        raise TypeError(
            f"write_idx: IDX cannot store dtype {a.dtype}; convert to uint8, int8, int16, "
            "int32, float32 or float64"
        )
    if not 1 <= a.ndim <= _MAX_DIMS:
        raise ValueError(f"write_idx: need 1 to {_MAX_DIMS} dimensions, got shape {a.shape}")
    if any(n >= 2**32 for n in a.shape):
        raise ValueError(f"write_idx: dimensions must fit in 32 bits, got {a.shape}")
    data = struct.pack(f">HBB{a.ndim}I", 0, code, a.ndim, *a.shape)
    data += np.ascontiguousarray(a, dtype=_CODES[code]).tobytes()
    p = Path(path)
    if compress if compress is not None else p.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    atomic_write_bytes(p, data)


def file_mode() -> int:
    """The mode ``open()`` would give a new file (0o666 less the umask); temporary files
    start as 0o600, so atomic writes set this before renaming."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file + ``os.replace`` (never half-written)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
