"""Datasets and batching: the embedded 8x8 digits, Fashion-MNIST from Debian's package or a
directory, MNIST downloaded with SHA-256 checks into a resume-safe cache, and ``DataLoader``.

Loaders return a ``Dataset`` with float32 images scaled to [0, 1] (flattened by default)
and int64 labels; ``(x_train, y_train), (x_test, y_test) = load_digits()`` also works.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import sys
import tempfile
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tinygrad_bp.idx import IDXError, file_mode, read_idx
from tinygrad_bp.tensor import Tensor, _new

__all__ = [
    "FASHION_MNIST_CLASSES",
    "MNIST_MIRRORS",
    "MNIST_SHA256",
    "DataLoader",
    "Dataset",
    "DownloadError",
    "download",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "sha256_file",
]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
DIGIT_CLASSES = tuple(str(i) for i in range(10))
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
# SHA-256 of the original gzip files, as published with TFDS and Keras
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    ),
    "train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
    ),
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
_IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split: float32 inputs in [0, 1] and int64 labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield self.x_train, self.y_train
        yield self.x_test, self.y_test

    @property
    def num_features(self) -> int:
        """Inputs per sample (64 for digits, 784 for the MNISTs)."""
        return int(np.prod(self.x_train.shape[1:]))

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}: train {self.x_train.shape}, test {self.x_test.shape}, "
            f"{self.num_classes} classes)"
        )


# --------------------------------------------------------------------------- digits
def _stratified_split(
    labels: np.ndarray, test_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices with every class in proportion (largest remainders)."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    share = counts * test_size / len(labels)
    take = np.floor(share).astype(int)
    extra = test_size - int(take.sum())
    take[np.argsort(-(share - take), kind="stable")[:extra]] += 1
    train, test = [], []
    for c, k in zip(classes, take):
        idx = rng.permutation(np.flatnonzero(labels == c))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def load_digits(test_size: int = 360, seed: int = 0, flatten: bool = True) -> Dataset:
    """The embedded 8x8 handwritten digits (UCI optical digits, 1797 images, CC BY 4.0),
    split into a fixed, seeded, stratified train/test split (1437/360 by default).

    Pixels (0..16) are scaled to [0, 1] float32; ``flatten=False`` keeps images 8x8.
    """
    with resources.files("tinygrad_bp").joinpath("datasets/digits.csv.gz").open("rb") as f:
        with gzip.open(f, "rt") as text:
            data = np.loadtxt(text, delimiter=",", dtype=np.int64)
    if data.shape != (1797, 65):
        raise IDXError(
            f"load_digits: the embedded file has shape {data.shape}, expected (1797, 65)"
        )
    if not 0 < test_size < len(data):
        raise ValueError(f"load_digits: test_size must be in (0, {len(data)}), got {test_size}")
    x = (data[:, :64] / np.float32(16.0)).astype(np.float32)
    y = data[:, 64]
    if not flatten:
        x = x.reshape(-1, 8, 8)
    tr, te = _stratified_split(y, test_size, seed)
    return Dataset("digits", x[tr], y[tr], x[te], y[te], DIGIT_CLASSES)


# --------------------------------------------------------------------------- IDX datasets
def _find(root: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (root / name).is_file():
            return root / name
    return None


def _idx_dataset(name: str, root: Path, classes: tuple[str, ...], flatten: bool) -> Dataset:
    arrays = []
    for stem in _IDX_FILES:
        path = _find(root, stem)
        assert path is not None
        arrays.append(read_idx(path))
    xtr, ytr, xte, yte = arrays
    for x, y, part in ((xtr, ytr, "train"), (xte, yte, "t10k")):
        if x.dtype != np.uint8 or x.ndim != 3:
            raise IDXError(
                f"{name}: {part} images should be uint8 of shape (N, H, W), got {x.dtype} {x.shape}"
            )
        if y.dtype != np.uint8 or y.ndim != 1 or len(y) != len(x):
            raise IDXError(
                f"{name}: {part} labels should be uint8 of shape ({len(x)},), got "
                f"{y.dtype} {y.shape}"
            )
        if y.size and y.max() >= len(classes):
            raise IDXError(f"{name}: {part} labels go up to {y.max()}, expected < {len(classes)}")

    def images(a: np.ndarray) -> np.ndarray:
        f = a.astype(np.float32)
        f *= np.float32(1 / 255)
        return f.reshape(len(a), -1) if flatten else f

    return Dataset(
        name, images(xtr), ytr.astype(np.int64), images(xte), yte.astype(np.int64), classes
    )


def load_fashion_mnist(root: str | os.PathLike[str] | None = None, flatten: bool = True) -> Dataset:
    """Fashion-MNIST (Zalando, MIT licence) from ``root`` or from Debian's package
    ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``): 60,000 + 10,000
    28x28 images of 10 clothing classes, scaled to [0, 1]."""
    roots = [Path(root)] if root is not None else [FASHION_MNIST_DIR]
    for r in roots:
        if all(_find(r, stem) for stem in _IDX_FILES):
            return _idx_dataset("fashion-mnist", r, FASHION_MNIST_CLASSES, flatten)
    where = ", ".join(str(r) for r in roots)
    raise FileNotFoundError(
        f"load_fashion_mnist: the IDX files ({', '.join(s + '[.gz]' for s in _IDX_FILES)}) are "
        f"not in {where}. On Debian/Ubuntu install them with `sudo apt-get install "
        "dataset-fashion-mnist`, or download them from "
        "https://github.com/zalandoresearch/fashion-mnist and pass root=DIR (--data-dir DIR)"
    )


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tinygrad_bp" / "mnist"


def load_mnist(
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    mirrors: Sequence[str] = MNIST_MIRRORS,
    checksums: Mapping[str, str] | None = None,
    flatten: bool = True,
    quiet: bool = False,
) -> Dataset:
    """MNIST (LeCun, Cortes and Burges), cached in ``root`` (default
    ``~/.cache/tinygrad_bp/mnist``) and downloaded when missing.

    Each file is checked against its SHA-256 (``checksums``, default ``MNIST_SHA256``): a
    cached file that matches is used as is; one that does not is fetched again. Downloads
    try ``mirrors`` in order, are written to a temporary file and renamed into place only
    after their checksum matches, so the cache never holds a partial or corrupt file.
    """
    r = Path(root) if root is not None else _cache_dir()
    sums = dict(MNIST_SHA256 if checksums is None else checksums)
    r.mkdir(parents=True, exist_ok=True)
    for name, digest in sums.items():
        path = r / name
        if path.is_file() and sha256_file(path) == digest:
            continue
        if not download:
            state = "has the wrong checksum" if path.exists() else "is missing"
            raise FileNotFoundError(
                f"load_mnist: {path} {state} and download=False; pass download=True (or copy "
                f"the MNIST files with SHA-256 {digest[:12]}... there)"
            )
        _download([m.rstrip("/") + "/" + name for m in mirrors], path, digest, quiet=quiet)
    return _idx_dataset("mnist", r, DIGIT_CLASSES, flatten)


# --------------------------------------------------------------------------- downloads
class DownloadError(OSError):
    """No mirror delivered a file with the expected checksum; ``errors`` lists what went
    wrong with each URL (one line each)."""

    def __init__(self, message: str, errors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(
    urls: str | Sequence[str],
    dest: str | os.PathLike[str],
    sha256: str,
    timeout: float = 30.0,
    quiet: bool = False,
) -> Path:
    """Fetch the first of ``urls`` that delivers bytes with SHA-256 ``sha256`` into ``dest``.

    The body streams into a temporary file next to ``dest`` while it is hashed; a complete
    file with the right checksum is renamed over ``dest`` (atomic), anything else is deleted
    and the next URL is tried. A ``dest`` that already has the checksum is kept as is.

    Raises:
        DownloadError: listing what went wrong with each URL.
    """
    dest = Path(dest)
    if dest.is_file() and sha256_file(dest) == sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in [urls] if isinstance(urls, str) else list(urls):
        if not quiet:
            print(f"downloading {url}", file=sys.stderr)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            h = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                while chunk := resp.read(1 << 16):
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            got = h.hexdigest()
            if got != sha256:
                errors.append(f"{url}: checksum mismatch (got sha256 {got}, expected {sha256})")
                continue
            os.chmod(tmp, file_mode())
            os.replace(tmp, dest)
            return dest
        except (OSError, ValueError, http.client.HTTPException) as e:  # URLError is an OSError
            errors.append(f"{url}: {e}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    raise DownloadError(
        f"download: could not fetch {dest.name} with sha256 {sha256}:\n  " + "\n  ".join(errors),
        errors,
    )


_download = download  # load_mnist's ``download`` argument shadows the function


def load_dataset(name: str, root: str | os.PathLike[str] | None = None) -> Dataset:
    """``load_digits``, ``load_fashion_mnist`` or ``load_mnist`` by name."""
    if name == "digits":
        return load_digits()
    if name == "fashion-mnist":
        return load_fashion_mnist(root)
    if name == "mnist":
        return load_mnist(root)
    raise ValueError(f"unknown dataset {name!r}; use digits, fashion-mnist or mnist")


# --------------------------------------------------------------------------- batching
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
            if self.tensors:  # _make, written out: xb is a numeric array of the loader's
                out = _new(Tensor)  # dtype already, Tensor()'s checks would find nothing
                out.data = xb
                out.requires_grad = False
                out._ctx = None
                out._version_counter = None
            if y is None:
                yield out
            else:
                yield out, (y[sel].copy() if perm is None else y[sel])
