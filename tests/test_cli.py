"""The command line explains itself: --help lists the commands and every default, failures are
one line that says what to do, BLAS threads are chosen and reported, metrics.json records every
hyperparameter, the pictures say what they show, and evaluate reads Module.save files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tinygrad_bp import cli, nn, serialization
from tinygrad_bp.cli import threads as cli_threads
from tinygrad_bp.cli import train as cli_train
from tinygrad_bp.cli.common import progress_bar_class
from tinygrad_bp.cli.plots import grad_flow_title, history_figure
from tinygrad_bp.idx import write_idx

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("train", "evaluate", "graph")


def _fail(argv, capsys):
    """Run the CLI expecting a failure; return its one stderr line (nothing on stdout)."""
    capsys.readouterr()
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A short digits run with non-default hyperparameters."""
    out = tmp_path_factory.mktemp("run")
    argv = ["train", "--epochs", "3", "--hidden", "8", "--optimizer", "nesterov"]
    argv += ["--momentum", "0.5", "--schedule", "step", "--threads", "1", "--out", str(out)]
    assert cli.main(argv) == 0
    return out


# --------------------------------------------------------------------------- help
def _help(*argv):
    with pytest.raises(SystemExit) as e:
        cli.build_parser().parse_args([*argv, "--help"])
    assert e.value.code == 0


def test_help_lists_the_three_commands_in_plain_text(capsys):
    _help()
    text = capsys.readouterr().out
    for name in COMMANDS:
        assert re.search(rf"^\s+{name}\s+\w", text, re.M), name
    assert "``" not in text and ":func:" not in text and ".. " not in text


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help_showing_its_default(command, capsys):
    _help(command)
    text = capsys.readouterr().out
    options = text.split("options:\n", 1)[1]
    blocks = re.split(r"\n(?=  -)", options.strip())
    parser = cli.build_parser()._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
    flags = {a.option_strings[-1] for a in parser._actions if a.option_strings} - {"--help"}
    seen = set()
    for block in blocks:
        flag = block.split()[0].rstrip(",")
        if flag in ("-h", "--help"):
            continue
        seen.add(flag)
        assert "default" in " ".join(block.split()), block
    assert seen == flags
    if command == "train":
        momentum = next(b for b in blocks if b.startswith("  --momentum"))
        assert "(default: 0.9)" in " ".join(momentum.split())


# --------------------------------------------------------------------------- metrics
def test_metrics_json_records_every_hyperparameter(run):
    m = json.loads((run / "metrics.json").read_text())
    hp = m["hyperparameters"]
    dests = {
        a.dest for a in cli.build_parser()._subparsers._group_actions[0].choices["train"]._actions
    }  # type: ignore[union-attr]
    assert dests - {"help"} <= set(hp)
    assert hp["momentum"] == 0.5 and hp["optimizer"] == "nesterov" and hp["hidden"] == [8]
    assert hp["epochs"] == 3 and hp["batch_size"] == 16 and hp["lr"] == 0.1
    assert hp["label_smoothing"] == 0.1 and hp["blas_threads"] == 1 and hp["probe_batch"] == 256
    assert hp["optimizer_settings"] == {
        "lr": 0.1,
        "momentum": 0.5,
        "dampening": 0.0,
        "weight_decay": 0.0,
        "nesterov": True,
        "maximize": False,
    }
    assert hp["schedule_settings"]["step_size"] == 1 and hp["schedule_settings"]["gamma"] == 0.1
    ckpt_args = serialization.load(run / "checkpoint.npz")["meta"]["args"]
    assert ckpt_args["momentum"] == 0.5


def test_momentum_only_with_a_momentum_optimizer(tmp_path, capsys):
    line = _fail(
        ["train", "--optimizer", "adam", "--momentum", "0.5", "--out", str(tmp_path)], capsys
    )
    assert "--momentum applies to --optimizer momentum or nesterov" in line


# --------------------------------------------------------------------------- pictures
def test_training_png_has_whole_epoch_ticks():
    hist = [
        {
            "epoch": e,
            "train_loss": 1 / e,
            "test_loss": 1.1 / e,
            "train_accuracy": 0.5,
            "test_accuracy": 0.4,
        }
        for e in (1, 2, 3)
    ]
    fig = history_figure(hist, "t")
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_grad_flow_png_says_which_batch_it_shows(run, monkeypatch, tmp_path):
    png = (run / "grad_flow.png").read_bytes()
    title = grad_flow_title(3, 256)
    assert "probe batch (256 training images" in title and "after epoch 3" in title
    assert b"Title\x00" + title.encode("latin-1") in png
    from tinygrad_bp import viz

    titles = []
    real = viz.plot_grad_flow
    monkeypatch.setattr(viz, "plot_grad_flow", lambda m, **kw: titles.append(kw) or real(m, **kw))
    assert (
        cli.main(["train", "--epochs", "1", "--hidden", "4", "--quiet", "--out", str(tmp_path)])
        == 0
    )
    assert titles == [{"title": grad_flow_title(1, 256)}]


def _op_fills(svg: str) -> list[str]:
    pattern = r'<g id="[^"]+" class="node op[^"]*">.*?fill="([^"]+)"'
    return re.findall(pattern, svg, re.S)


def test_graph_svgs_colour_the_ops(run, tmp_path):
    out = tmp_path / "g.svg"
    assert cli.main(["graph", "--model", "6-4-3", "--out", str(out)]) == 0
    for svg in (out.read_text(), (run / "graph.svg").read_text()):
        fills = _op_fills(svg)
        assert len(fills) >= 3 and "#ffffff" not in fills, fills
        assert "capture_grads" not in svg


def test_progress_bars_only_on_a_terminal(tmp_path, capsys):
    class Stream:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    assert progress_bar_class(False, Stream(True), Stream(True)) is not None
    assert progress_bar_class(False, Stream(False), Stream(True)) is None
    assert progress_bar_class(False, Stream(True), Stream(False)) is None
    assert progress_bar_class(True, Stream(True), Stream(True)) is None
    capsys.readouterr()
    assert cli.main(["train", "--epochs", "2", "--hidden", "4", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "epoch   2/2" in captured.out
    assert "\r" not in captured.err and "batch/s" not in captured.err


# --------------------------------------------------------------------------- threads
def test_auto_threads_one_for_small_matmuls_all_cores_for_large():
    assert cli_threads.largest_matmul([784, 100, 10], 64) == 64 * 784 * 100
    assert cli_threads.auto_threads(64 * 784 * 100, 2) == 1
    assert cli_threads.auto_threads(256 * 784 * 1024, 2) == 2
    assert cli_threads.auto_threads(256 * 784 * 1024, 1) == 1


def _blas_threads_now():
    from threadpoolctl import threadpool_info

    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


@pytest.mark.parametrize(
    ("argv", "env", "expected", "reason"),
    [
        (["--threads", "2"], {}, 2, "--threads 2"),
        ([], {}, 1, "chosen for small matmuls"),
        ([], {"OPENBLAS_NUM_THREADS": "1"}, None, "from OPENBLAS_NUM_THREADS"),
    ],
)
def test_train_applies_and_reports_blas_threads(
    argv, env, expected, reason, tmp_path, monkeypatch, capsys
):
    pytest.importorskip("threadpoolctl", reason="the train extra installs threadpoolctl")
    if not _blas_threads_now():
        pytest.skip("numpy's BLAS exposes no thread pool")
    for var in cli_threads.ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    from threadpoolctl import threadpool_limits

    # start from the other count, so a CLI that changed nothing would be caught
    start = threadpool_limits(limits=1 if expected == 2 else 2, user_api="blas")
    before = _blas_threads_now()
    during = []
    real = cli_train.evaluate_model
    monkeypatch.setattr(
        cli_train, "evaluate_model", lambda *a: during.append(_blas_threads_now()) or real(*a)
    )
    out = tmp_path / "r"
    try:
        status = cli.main(["train", "--epochs", "1", "--hidden", "4", *argv, "--out", str(out)])
        after = _blas_threads_now()
    finally:
        start.restore_original_limits()
    assert status == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("BLAS threads: ") and reason in line
    want = before if expected is None else [expected] * len(before)
    assert during and all(d == want for d in during)
    assert after == before  # restored afterwards
    m = json.loads((out / "metrics.json").read_text())
    assert m["hyperparameters"]["blas_threads"] == want[0]


def test_without_threadpoolctl_the_cli_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import raises ImportError
    assert cli.main(["train", "--epochs", "1", "--hidden", "4", "--out", str(tmp_path)]) == 0
    assert "threadpoolctl is not installed" in capsys.readouterr().out
    line = _fail(["train", "--threads", "2", "--out", str(tmp_path)], capsys)
    assert "--threads needs threadpoolctl: pip install threadpoolctl" in line


def test_threadpoolctl_is_in_the_train_and_notebooks_extras():
    extras = _extras()
    for extra in ("train", "dev", "notebooks"):
        assert any(r.startswith("threadpoolctl") for r in extras[extra]), extra


# --------------------------------------------------------------------------- failures
def test_missing_checkpoint_is_one_line(tmp_path, capsys):
    missing = tmp_path / "nope" / "checkpoint.npz"
    line = _fail(["evaluate", "--checkpoint", str(missing)], capsys)
    assert "no checkpoint at" in line and "tinygrad-bp train --out DIR" in line
    line = _fail(["train", "--resume", str(missing), "--out", str(tmp_path / "o")], capsys)
    assert "train --resume: no checkpoint at" in line


def test_missing_checkpoint_from_a_real_process_prints_no_traceback(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "tinygrad_bp", "evaluate", "--checkpoint", str(tmp_path / "x.npz")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: evaluate --checkpoint")


def test_evaluate_accepts_a_run_directory(run, capsys):
    capsys.readouterr()
    assert cli.main(["evaluate", "--checkpoint", str(run)]) == 0
    assert "64-8-10 sigmoid, epoch 3" in capsys.readouterr().out


def _fake_fashion(root: Path, n: int = 30) -> Path:
    """Four tiny Fashion-MNIST-shaped IDX files (28x28 images, labels 0..9)."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for part in ("train", "t10k"):
        write_idx(
            root / f"{part}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        )
        write_idx(root / f"{part}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    return root


def test_digits_checkpoint_on_fashion_mnist_is_one_line(run, tmp_path, capsys):
    fashion = _fake_fashion(tmp_path / "fashion")
    argv = ["evaluate", "--checkpoint", str(run / "checkpoint.npz"), "--dataset", "fashion-mnist"]
    line = _fail([*argv, "--data-dir", str(fashion)], capsys)
    assert "64-8-10 network (64 inputs, 10 classes, trained on digits)" in line
    assert "fashion-mnist has 784 inputs" in line and "--dataset digits" in line


@pytest.mark.parametrize(
    "argv",
    [["graph", "--out", "{tmp}/g.xyz"], ["graph", "--out", "{tmp}/g.svg", "--format", "docx"]],
)
def test_unknown_graph_format_is_one_line(argv, tmp_path, capsys):
    line = _fail([a.format(tmp=tmp_path) for a in argv], capsys)
    assert "Graphviz cannot write" in line and ".svg, .png or .pdf" in line
    assert not list(tmp_path.iterdir())


def test_a_file_name_as_train_out_is_one_line(tmp_path, capsys):
    line = _fail(["train", "--out", str(tmp_path / "model.npz")], capsys)
    assert "--out is the directory" in line and not (tmp_path / "model.npz").exists()


def test_offline_mnist_download_suggests_data_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def offline(url, timeout=None):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    capsys.readouterr()
    assert cli.main(["train", "--dataset", "mnist", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("fetching MNIST into") and len(err) == 2
    assert err[1].startswith("error: could not download MNIST (") and "name resolution" in err[1]
    assert "pass --data-dir DIR" in err[1] and "train-images-idx3-ubyte.gz" in err[1]


def test_negative_learning_rate_is_one_line(tmp_path, capsys):
    assert "train: " in _fail(["train", "--lr", "-1", "--out", str(tmp_path)], capsys)


# --------------------------------------------------------------------------- Module.save files
def _digits_accuracy(model):
    from tinygrad_bp import data

    ds = data.load_digits()
    return cli.evaluate_model(model, ds.x_test, ds.y_test)[1]


def test_evaluate_reads_mlp_save_and_asks_for_what_is_missing(tmp_path, capsys):
    model = nn.MLP([64, 12, 10], "relu", rng=3)
    plain, described = tmp_path / "plain.npz", tmp_path / "described.npz"
    model.save(plain)
    model.save(described, activation="relu", dataset="digits")
    line = _fail(["evaluate", "--checkpoint", str(plain)], capsys)
    assert "does not record its activation; pass --activation sigmoid|relu|tanh|" in line
    acc = _digits_accuracy(model)
    for argv in (
        ["--checkpoint", str(plain), "--activation", "relu"],
        ["--checkpoint", str(described)],
    ):
        assert cli.main(["evaluate", *argv]) == 0
        out = capsys.readouterr().out
        assert "64-12-10 relu" in out and f"test accuracy {acc:.4f}" in out


def test_evaluate_reads_a_sequential_of_linear_layers(tmp_path, capsys):
    model = nn.Sequential(nn.Linear(64, 5, rng=0), nn.Tanh(), nn.Linear(5, 10, rng=1))
    model.save(tmp_path / "s.npz")
    acc = _digits_accuracy(model)
    capsys.readouterr()
    assert (
        cli.main(["evaluate", "--checkpoint", str(tmp_path / "s.npz"), "--activation", "tanh"]) == 0
    )
    assert f"test accuracy {acc:.4f}" in capsys.readouterr().out


def test_evaluate_explains_files_it_cannot_use(tmp_path, capsys):
    nn.Linear(64, 10, rng=0).save(tmp_path / "linear.npz")
    line = _fail(["evaluate", "--checkpoint", str(tmp_path / "linear.npz")], capsys)
    assert "not an MLP's chain of Linear layers" in line and "tinygrad-bp train" in line
    serialization.save(tmp_path / "arrays.npz", {"x": np.zeros(3)})
    line = _fail(["evaluate", "--checkpoint", str(tmp_path / "arrays.npz")], capsys)
    assert "holds no model parameters" in line
    nn.MLP([784, 4, 10]).save(tmp_path / "m784.npz", activation="sigmoid")
    line = _fail(["evaluate", "--checkpoint", str(tmp_path / "m784.npz")], capsys)
    assert "pass --dataset fashion-mnist or --dataset mnist" in line


# --------------------------------------------------------------------------- notebooks extra
def _extras() -> dict[str, list[str]]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def _notebook_imports() -> set[str]:
    import ast

    names = set()
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            lines = "".join(cell["source"]).splitlines()
            code = "\n".join(line for line in lines if not line.startswith(("%", "!")))
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.Import):
                    names |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module.split(".")[0])
    return names


def test_notebooks_extra_brings_jupyterlab_and_every_notebook_import():
    extras = _extras()
    dists = {re.split(r"[<>=!~\[ ]", r)[0].lower() for r in extras["notebooks"]}
    assert "jupyterlab" in dists
    third_party = _notebook_imports() - set(sys.stdlib_module_names) - {"tinygrad_bp", "numpy"}
    assert third_party and third_party <= dists, third_party - dists
    readme = (ROOT / "README.md").read_text()
    assert 'pip install -e ".[notebooks]"' in readme and "jupyter lab notebooks/" in readme


def test_train_and_evaluate_with_a_newer_activation(tmp_path, capsys):
    """--activation gelu trains, is recorded in the checkpoint, and evaluate rebuilds it."""
    run = tmp_path / "run"
    argv = ["train", "--activation", "gelu", "--epochs", "2", "--hidden", "16", "--quiet"]
    assert cli.main([*argv, "--threads", "1", "--out", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["activation"] == "gelu"
    assert metrics["history"][-1]["test_accuracy"] > 0.8
    capsys.readouterr()
    assert cli.main(["evaluate", "--checkpoint", str(run / "checkpoint.npz")]) == 0
    assert " gelu" in capsys.readouterr().out
