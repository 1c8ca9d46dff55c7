"""Datasets and batching: the embedded 8x8 digits, Fashion-MNIST from Debian's package or a
directory, MNIST downloaded with SHA-256 checks into a resume-safe cache, and ``DataLoader``.

Reading order: ``datasets.py`` (``Dataset`` and the loaders), ``loader.py`` (``DataLoader``),
``downloads.py`` (checked, atomic downloads). The IDX file format is ``tinygrad_bp.idx``.
"""

from tinygrad_bp.data.datasets import (
    DIGIT_CLASSES,
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_DIR,
    MNIST_MIRRORS,
    MNIST_SHA256,
    Dataset,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
)
from tinygrad_bp.data.downloads import DownloadError, cache_dir, download, sha256_file
from tinygrad_bp.data.loader import DataLoader

__all__ = [
    "DIGIT_CLASSES",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_DIR",
    "MNIST_MIRRORS",
    "MNIST_SHA256",
    "DataLoader",
    "Dataset",
    "DownloadError",
    "cache_dir",
    "download",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "sha256_file",
]
