"""data and idx: IDX round trips and corrupt files, the embedded digits, Fashion-MNIST,
MNIST downloads against a local HTTP server, and DataLoader."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import struct
import threading

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import data
from tinygrad_bp.idx import IDXError, parse_idx, read_idx, write_idx


# --------------------------------------------------------------------------- IDX
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    a = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    path = tmp_path / f"a-idx3{suffix}"
    write_idx(path, a)
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype).newbyteorder("=") and b.shape == a.shape
    np.testing.assert_array_equal(a, b)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_idx_header_layout_is_big_endian():
    write = np.array([[1, 2]], dtype=np.int32)
    raw = struct.pack(">HBBII", 0, 0x0C, 2, 1, 2) + struct.pack(">2i", 1, 2)
    np.testing.assert_array_equal(parse_idx(raw), write)


def _header(code=0x08, dims=(2, 2)):
    return struct.pack(f">HBB{len(dims)}I", 0, code, len(dims), *dims)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"\x00\x00", "too short"),
        (b"\x01\x02\x08\x01" + b"\x00" * 8, "bad magic"),
        (_header(code=0x07) + b"\x00" * 4, "unknown dtype code 0x07"),
        (struct.pack(">HBB", 0, 8, 0), "0 dimensions"),
        (_header(dims=(2, 2))[:9], "truncated header"),
        (_header(dims=(2, 2)) + b"\x00" * 3, r"truncated: shape \(2, 2\) of uint8 needs 4 bytes"),
        (_header(dims=(2, 2)) + b"\x00" * 5, "1 unexpected trailing bytes"),
        (_header(code=0x0D, dims=(3,)) + b"\x00" * 8, "needs 12 bytes"),
    ],
)
def test_idx_rejects_corrupt_files(tmp_path, raw, match):
    path = tmp_path / "bad-idx"
    path.write_bytes(raw)
    with pytest.raises(IDXError, match=match):
        read_idx(path)


def test_idx_rejects_truncated_and_corrupt_gzip(tmp_path):
    good = gzip.compress(_header() + b"\x01\x02\x03\x04")
    path = tmp_path / "x.gz"
    path.write_bytes(good[:-6])
    with pytest.raises(IDXError, match="corrupt or truncated gzip"):
        read_idx(path)
    path.write_bytes(good[:10] + b"garbage" + good[17:])
    with pytest.raises(IDXError, match="gzip"):
        read_idx(path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_idx(tmp_path / "missing")


def test_write_idx_rejects_unsupported_arrays(tmp_path):
    with pytest.raises(TypeError, match="int64"):
        write_idx(tmp_path / "a", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="dimensions"):
        write_idx(tmp_path / "a", np.zeros((), dtype=np.uint8))


# --------------------------------------------------------------------------- digits
def test_load_digits_split_is_fixed_stratified_and_scaled():
    ds = data.load_digits()
    assert ds.x_train.shape == (1437, 64) and ds.x_test.shape == (360, 64)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert 0 <= ds.x_train.min() and ds.x_train.max() == 1.0
    assert ds.num_features == 64 and ds.num_classes == 10
    all_y = np.concatenate([ds.y_train, ds.y_test])
    share = np.bincount(ds.y_test, minlength=10) / np.bincount(all_y, minlength=10)
    assert np.allclose(share, 360 / 1797, atol=0.01)  # every class in proportion
    again = data.load_digits()
    np.testing.assert_array_equal(ds.x_test, again.x_test)
    other = data.load_digits(seed=1)
    assert not np.array_equal(ds.y_test, other.y_test)
    (xtr, _), (xte, _) = ds
    rows = {r.tobytes() for r in np.concatenate([xtr, xte])}
    assert len(xtr) + len(xte) == 1797 and len(rows) > 1700
    assert data.load_digits(flatten=False).x_train.shape == (1437, 8, 8)
    assert "1437" in repr(ds)
    with pytest.raises(ValueError, match="test_size"):
        data.load_digits(test_size=0)


# --------------------------------------------------------------------------- IDX datasets
def _write_mnist_like(root, n_train=6, n_test=4, gz=True, label_max=9):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    files = {}
    for part, n in (("train", n_train), ("t10k", n_test)):
        img = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        lab = rng.integers(0, label_max + 1, size=n, dtype=np.uint8)
        write_idx(root / f"{part}-images-idx3-ubyte{suffix}", img)
        write_idx(root / f"{part}-labels-idx1-ubyte{suffix}", lab)
        files[part] = (img, lab)
    return files


def test_load_fashion_mnist_from_a_directory(tmp_path):
    files = _write_mnist_like(tmp_path, gz=False)
    ds = data.load_fashion_mnist(tmp_path)
    assert ds.x_train.shape == (6, 784) and ds.x_train.dtype == np.float32
    np.testing.assert_allclose(ds.x_train * 255, files["train"][0].reshape(6, -1), atol=1e-4)
    np.testing.assert_array_equal(ds.y_test, files["t10k"][1])
    assert ds.classes[0] == "T-shirt/top"
    assert data.load_fashion_mnist(tmp_path, flatten=False).x_test.shape == (4, 28, 28)


def test_load_fashion_mnist_missing_files_names_the_debian_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.load_fashion_mnist(tmp_path)


def test_load_fashion_mnist_validates_contents(tmp_path):
    _write_mnist_like(tmp_path, label_max=12)
    with pytest.raises(IDXError, match="labels go up to"):
        data.load_fashion_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8))
    _write_mnist_like(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8))
    with pytest.raises(IDXError, match=r"labels should be uint8 of shape \(4,\)"):
        data.load_fashion_mnist(tmp_path)


def test_load_fashion_mnist_from_debian_package():
    ds = data.load_fashion_mnist()  # CI installs dataset-fashion-mnist
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert ds.x_train.dtype == np.float32 and 0 <= ds.x_train.min() and ds.x_train.max() <= 1
    assert np.array_equal(np.bincount(ds.y_test), [1000] * 10)


# --------------------------------------------------------------------------- downloads
class _Handler(http.server.SimpleHTTPRequestHandler):
    log: list[str]

    def log_message(self, format, *args):
        self.log.append(self.path)


@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/www over HTTP on 127.0.0.1; yields (base URL, www dir, request log)."""
    www = tmp_path / "www"
    www.mkdir()
    log: list[str] = []
    handler = type("H", (_Handler,), {"log": log})
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(www))
    )
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", www, log
    finally:
        httpd.shutdown()
        httpd.server_close()


def _mirror(www, name, corrupt=False):
    """Write MNIST-like files into www/name; return their checksums (of the good bytes)."""
    d = www / name
    d.mkdir()
    _write_mnist_like(d)
    sums = {}
    for f in sorted(d.iterdir()):
        raw = f.read_bytes()
        sums[f.name] = hashlib.sha256(raw).hexdigest()
        if corrupt:
            f.write_bytes(raw[:-1] + bytes([raw[-1] ^ 0xFF]))
    return sums


def test_load_mnist_rejects_a_corrupt_mirror_and_uses_the_next(server, tmp_path):
    base, www, log = server
    _mirror(www, "bad", corrupt=True)
    sums = _mirror(www, "good")
    cache = tmp_path / "cache"
    ds = data.load_mnist(
        cache, mirrors=[f"{base}/bad/", f"{base}/good"], checksums=sums, quiet=True
    )
    assert ds.x_train.shape == (6, 784) and ds.name == "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(sums)  # no corrupt or .part file
    for name, digest in sums.items():
        assert data.sha256_file(cache / name) == digest
        assert log.index(f"/bad/{name}") < log.index(f"/good/{name}")
    # resume-safe cache: nothing is fetched again
    n = len(log)
    data.load_mnist(cache, mirrors=[f"{base}/good"], checksums=sums, quiet=True)
    assert len(log) == n
    # a damaged cached file is replaced
    victim = cache / "t10k-labels-idx1-ubyte.gz"
    victim.write_bytes(b"junk")
    data.load_mnist(cache, mirrors=[f"{base}/good"], checksums=sums, quiet=True)
    assert log[n:] == ["/good/t10k-labels-idx1-ubyte.gz"]
    assert data.sha256_file(victim) == sums[victim.name]


def test_download_failure_lists_every_mirror_and_leaves_no_file(server, tmp_path):
    base, www, _ = server
    sums = _mirror(www, "bad", corrupt=True)
    name = "train-labels-idx1-ubyte.gz"
    dest = tmp_path / "cache" / name
    with pytest.raises(data.DownloadError) as e:
        data.download(
            [f"{base}/bad/{name}", f"{base}/missing/{name}", "http://127.0.0.1:9/nothing"],
            dest,
            sums[name],
            timeout=5,
            quiet=True,
        )
    msg = str(e.value)
    assert "checksum mismatch" in msg and "404" in msg and "127.0.0.1:9" in msg
    assert list(dest.parent.iterdir()) == []


def test_load_mnist_without_download_explains(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=False"):
        data.load_mnist(tmp_path, download=False, checksums={"a.gz": "0" * 64})


def test_load_dataset_by_name():
    assert data.load_dataset("digits").name == "digits"
    with pytest.raises(ValueError, match="unknown dataset"):
        data.load_dataset("cifar")


# --------------------------------------------------------------------------- DataLoader
def test_dataloader_batches_cover_every_sample_once():
    x = np.arange(10, dtype=np.float32)[:, None]
    y = np.arange(10)
    dl = data.DataLoader(x, y, batch_size=4, shuffle=True, seed=3)
    assert len(dl) == 3
    batches = list(dl)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    xb, yb = batches[0]
    assert isinstance(xb, tg.Tensor) and xb.dtype == np.float32 and yb.dtype == np.int64
    assert xb.is_leaf and not xb.requires_grad and xb.grad is None
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen) == list(range(10)) and list(seen) != list(range(10))
    np.testing.assert_array_equal(np.concatenate([b[0].numpy()[:, 0] for b in batches]), seen)


def test_dataloader_seeded_orders_per_epoch_and_resume():
    y = np.arange(50)
    a = data.DataLoader(y, y, batch_size=50, shuffle=True, seed=0, tensors=False)
    e0, e1 = next(iter(a))[1], next(iter(a))[1]
    assert not np.array_equal(e0, e1)  # a new order each epoch
    b = data.DataLoader(y, y, batch_size=50, shuffle=True, seed=0, tensors=False)
    b.set_epoch(1)
    np.testing.assert_array_equal(next(iter(b))[1], e1)  # resuming at epoch 1 sees epoch 1
    c = data.DataLoader(y, y, batch_size=50, shuffle=True, seed=np.random.default_rng(0))
    assert len(list(c)) == 1


def test_dataloader_drop_last_scaling_and_inputs_only():
    x = np.full((10, 2), 255, dtype=np.uint8)
    dl = data.DataLoader(x, batch_size=4, drop_last=True)
    batches = list(dl)
    assert len(dl) == len(batches) == 2
    assert all(b.shape == (4, 2) and b.dtype == np.float32 for b in batches)
    np.testing.assert_allclose(batches[0].numpy(), 1.0)
    raw = next(iter(data.DataLoader(x, batch_size=10, scale=2.0, tensors=False)))
    assert raw.dtype == np.float32 and raw[0, 0] == 510
    f64 = next(iter(data.DataLoader(np.zeros((3, 1)), batch_size=3)))
    assert f64.dtype == np.float32


def test_dataloader_rejects_bad_arguments():
    with pytest.raises(ValueError, match="10 samples but y has 9"):
        data.DataLoader(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(ValueError, match="batch_size"):
        data.DataLoader(np.zeros((10, 2)), batch_size=0)
    with pytest.raises(TypeError, match="dtype must be numeric"):
        data.DataLoader(np.zeros((10, 2)), dtype=object)
