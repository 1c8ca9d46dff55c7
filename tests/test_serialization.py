"""serialization: exact round trips, atomic writes, no pickle execution, truncated and
tampered files rejected, checkpoints, and a resumed training run continuing the exact curve."""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile

import numpy as np
import pytest

from tinygrad_bp import cli, nn, optim, serialization
from tinygrad_bp.serialization import CheckpointError


def _payload():
    return {
        "model": {"layers.0.weight": np.arange(6, dtype=np.float32).reshape(2, 3)},
        "optimizer": {
            "state": {0: {"momentum_buffer": np.ones(3), "step": 4}},
            "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "nesterov": False, "params": [0]}],
        },
        "meta": {"architecture": "3-2", "epoch": 7, "note": None, "flags": [True, 1.5, "x"]},
        "ints": np.array([1, 2], dtype=np.int64),
        "scalar": np.float32(2.5),
        "__weird": {"a.b": np.zeros(1, dtype=bool)},
    }


def test_round_trip_is_exact(tmp_path):
    p = tmp_path / "c.npz"
    serialization.save(p, _payload())
    got = serialization.load(p)
    want = _payload()
    np.testing.assert_array_equal(got["model"]["layers.0.weight"], want["model"]["layers.0.weight"])
    assert got["model"]["layers.0.weight"].dtype == np.float32
    assert list(got["optimizer"]["state"]) == [0]  # int keys come back as ints
    assert got["optimizer"]["state"][0]["step"] == 4
    assert got["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert got["meta"] == want["meta"]
    assert got["scalar"].dtype == np.float32 and got["scalar"] == 2.5
    assert got["__weird"]["a.b"].dtype == bool
    with zipfile.ZipFile(p) as z:  # arrays are stored under dotted names
        assert "optimizer.state.0.momentum_buffer.npy" in z.namelist()


def test_save_is_atomic_and_overwrites(tmp_path):
    p = tmp_path / "c.npz"
    serialization.save(p, {"a": np.zeros(2)})
    serialization.save(p, {"a": np.ones(2)}, compress=True)
    assert os.listdir(tmp_path) == ["c.npz"]
    np.testing.assert_array_equal(serialization.load(p)["a"], [1, 1])


def test_save_rejects_what_cannot_be_stored(tmp_path):
    with pytest.raises(TypeError, match="only numeric and bool arrays"):
        serialization.save(tmp_path / "c.npz", {"a": np.array([object()])})
    with pytest.raises(TypeError, match="cannot store set"):
        serialization.save(tmp_path / "c.npz", {"a": {1, 2}})
    assert not (tmp_path / "c.npz").exists()


class _Payload:
    """Unpickling this would create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickled_objects_are_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    evil = np.array([_Payload(marker)], dtype=object)
    # 1) a foreign npz holding a pickle; 2) our format with an entry swapped for a pickle
    serialization.save(tmp_path / "ok.npz", {"w": np.zeros(1)})
    with np.load(tmp_path / "ok.npz") as z:
        manifest = z["__manifest__"]
    for name, extra in (("foreign.npz", {}), ("ours.npz", {"__manifest__": manifest})):
        buf = io.BytesIO()
        np.savez(buf, w=evil, **extra)
        (tmp_path / name).write_bytes(buf.getvalue())
        with pytest.raises(CheckpointError):
            serialization.load(tmp_path / name)
    assert not marker.exists()


def test_truncated_and_garbage_files_are_rejected(tmp_path):
    p = tmp_path / "c.npz"
    serialization.save(p, _payload())
    raw = p.read_bytes()
    for cut in (len(raw) // 2, len(raw) - 10, 3):
        p.write_bytes(raw[:cut])
        with pytest.raises(CheckpointError, match=r"corrupt|truncat|unreadable"):
            serialization.load(p)
    p.write_bytes(b"not a zip file at all")
    with pytest.raises(CheckpointError):
        serialization.load(p)
    with pytest.raises(FileNotFoundError):
        serialization.load(tmp_path / "missing.npz")


def test_tampered_files_are_rejected(tmp_path):
    p = tmp_path / "c.npz"
    serialization.save(p, {"w": np.arange(100, dtype=np.float64), "meta": {"epoch": 1}})
    with np.load(p) as z:
        entries = {k: z[k] for k in z.files}
    # a changed array under the same manifest fails its SHA-256 check
    entries["w"] = entries["w"].copy()
    entries["w"][5] = 1e9
    buf = io.BytesIO()
    np.savez(buf, **entries)
    p.write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError, match="SHA-256"):
        serialization.load(p)
    # a flipped byte in the file itself (zip CRC or checksum)
    serialization.save(p, {"w": np.arange(100, dtype=np.float64)})
    raw = bytearray(p.read_bytes())
    raw[raw.find(np.arange(100, dtype=np.float64).tobytes()) + 40] ^= 0xFF
    p.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError):
        serialization.load(p)
    # a manifest edited to describe another shape
    serialization.save(p, {"w": np.zeros(3)})
    with np.load(p) as z:
        m = json.loads(z["__manifest__"].tobytes())
        w = z["w"]
    m["arrays"]["w"]["shape"] = [4]
    buf = io.BytesIO()
    np.savez(buf, __manifest__=np.frombuffer(json.dumps(m).encode(), np.uint8), w=w)
    p.write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError, match="manifest says"):
        serialization.load(p)
    # extra entries and foreign files
    buf = io.BytesIO()
    np.savez(buf, w=np.zeros(3))
    p.write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError, match="no manifest"):
        serialization.load(p)


def test_checkpoint_helpers_restore_model_optimizer_scheduler(tmp_path):
    model = nn.MLP([3, 4, 2], rng=0)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    sch = optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
    for p in model.parameters():
        p.grad = p.detach()
    opt.step()
    sch.step()
    serialization.save_checkpoint(tmp_path / "c.npz", model, opt, sch, {"epoch": 1})
    m2 = nn.MLP([3, 4, 2], rng=1)
    o2 = optim.SGD(m2.parameters(), lr=0.5, momentum=0.9)
    s2 = optim.lr_scheduler.StepLR(o2, 1, gamma=0.5)
    data = serialization.load_checkpoint(tmp_path / "c.npz", m2, o2, s2)
    assert data["meta"] == {"epoch": 1}
    assert o2.param_groups[0]["lr"] == 0.25 and s2.last_epoch == 1
    for (_, a), (_, b) in zip(model.named_parameters(), m2.named_parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(
            opt.state[a]["momentum_buffer"], o2.state[b]["momentum_buffer"]
        )
    serialization.save(tmp_path / "x.npz", {"a": np.zeros(1)})
    with pytest.raises(CheckpointError, match="no 'model' entry"):
        serialization.load_checkpoint(tmp_path / "x.npz")


@pytest.mark.parametrize(
    ("optimizer", "seed", "hidden", "epochs"), [("nesterov", 3, 32, 4), ("rmsprop", 1, 16, 3)]
)
def test_resumed_training_continues_the_exact_loss_curve(tmp_path, optimizer, seed, hidden, epochs):
    """Momentum buffers (nesterov) and RMSprop's square averages are saved: resuming after two
    epochs gives the uninterrupted run's curve and weights."""
    common = ["train", "--quiet", "--seed", str(seed), "--hidden", str(hidden)]
    common += ["--optimizer", optimizer]
    full, part = tmp_path / "full", tmp_path / "part"
    assert cli.main([*common, "--epochs", str(epochs), "--out", str(full)]) == 0
    assert cli.main([*common, "--epochs", "2", "--out", str(part)]) == 0
    resume = ["--resume", str(part / "checkpoint.npz")]
    assert cli.main([*common, "--epochs", str(epochs), "--out", str(part), *resume]) == 0
    a = json.loads((full / "metrics.json").read_text())["history"]
    b = json.loads((part / "metrics.json").read_text())["history"]
    keys = ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "grad_stats")
    assert [[h[k] for k in keys] for h in a] == [[h[k] for k in keys] for h in b]
    ca = serialization.load(full / "checkpoint.npz")
    cb = serialization.load(part / "checkpoint.npz")
    for k, v in ca["model"].items():
        np.testing.assert_array_equal(v, cb["model"][k])
    assert cb["meta"]["epoch"] == epochs
    bad = ["--hidden", str(hidden // 2), "--epochs", str(epochs + 1), "--out", str(part), *resume]
    assert cli.main([*common[:2], *bad]) == 1  # another architecture: a clear error


def test_saved_files_get_the_usual_permissions(tmp_path):
    path = tmp_path / "ck.npz"
    serialization.save(path, {"w": np.ones(2)})
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
