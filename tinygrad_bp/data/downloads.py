"""Downloads that never leave a partial or corrupt file: ``download`` streams into a temporary
file while hashing, renames it into place only when its SHA-256 matches and tries the next
mirror otherwise; ``sha256_file``; ``cache_dir``, where MNIST is kept."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import sys
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tinygrad_bp.idx import file_mode

__all__ = ["DownloadError", "cache_dir", "download", "sha256_file"]


def cache_dir() -> Path:
    """Where ``load_mnist`` keeps MNIST: ``$XDG_CACHE_HOME/tinygrad_bp/mnist`` (or ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tinygrad_bp" / "mnist"


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
