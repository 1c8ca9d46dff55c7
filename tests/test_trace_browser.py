"""The trace's interactive HTML page in a real headless Chromium (Debian's ``chromium``,
installed by ``make sysdeps``): a screenshot that shows the highlighted step, the page's
state after hash-driven actions (``--dump-dom``), and real mouse clicks sent over the
DevTools protocol (``--remote-debugging-pipe``, standard library only)."""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tinygrad_bp as tg
from tinygrad_bp import viz

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,800",
]
CURRENT = (0xE8, 0x59, 0x0C)  # the outline of the current step's node


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "Chromium is missing: `make sysdeps` installs Debian's chromium (as root)"
    return path


@pytest.fixture
def page(tmp_path: Path) -> tuple[Path, viz.BackwardTrace]:
    """The micrograd neuron with a fan-out (n is used twice), traced to an HTML page."""
    x1, x2 = tg.Tensor(2.0, requires_grad=True), tg.Tensor(0.0, requires_grad=True)
    w1, w2 = tg.Tensor(-3.0, requires_grad=True), tg.Tensor(1.0, requires_grad=True)
    b = tg.Tensor(6.8813735870195432, requires_grad=True)
    n = x1 * w1 + x2 * w2 + b
    o = n.tanh() + n * 0.5
    tr = viz.trace_backward(o, names={"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b, "n": n})
    return tr.save_html(tmp_path / "trace.html"), tr


def run(args: list[str], tmp: Path) -> subprocess.CompletedProcess[bytes]:
    prof = tmp / f"profile{len(list(tmp.iterdir()))}"
    cmd = [chromium(), *FLAGS, f"--user-data-dir={prof}", *args]
    return subprocess.run(cmd, capture_output=True, timeout=120, check=True)


def test_trace_html_screenshot_shows_the_highlighted_step(
    page: tuple[Path, viz.BackwardTrace], tmp_path: Path
) -> None:
    import matplotlib.image

    html, _ = page
    shot = tmp_path / "shot.png"
    run([f"--screenshot={shot}", f"{html.as_uri()}#do=next,next"], tmp_path)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = (matplotlib.image.imread(shot)[..., :3] * 255).round().astype(int)
    assert img.shape[:2] == (800, 1280)
    colours = np.unique(img.reshape(-1, 3), axis=0)
    assert len(colours) > 50  # text, graph and panel were drawn, not a blank page
    orange = np.all(np.abs(img - np.array(CURRENT)) <= 8, axis=-1)
    assert orange.sum() > 100  # the current node's outline is on screen
    green = np.all(np.abs(img - np.array((0xB7, 0xE4, 0xC7))) <= 4, axis=-1)
    assert green.sum() > 500  # nodes whose gradient is complete


def test_trace_html_hash_actions_step_and_show_a_node(
    page: tuple[Path, viz.BackwardTrace], tmp_path: Path
) -> None:
    html, tr = page
    dom = run(["--dump-dom", f"{html.as_uri()}#do=next,next,next,prev,click:n0"], tmp_path)
    text = dom.stdout.decode()
    assert 'data-step="2"' in text and 'data-done="1"' in text and 'data-shown="n0"' in text
    assert f"Step 2: {tr.steps[1].label}" in text


# --------------------------------------------------------------------------- DevTools pipe
class Browser:
    """Chromium driven over ``--remote-debugging-pipe``: JSON messages ending in NUL on
    file descriptors 3 (commands) and 4 (replies and events)."""

    def __init__(self, tmp: Path) -> None:
        fds = (*os.pipe(), *os.pipe())
        cmd_r0, self._cmd, self._out, out_w0 = fds
        fds = (cmd_r0, out_w0)
        # above fds 3 and 4, so that dup2 onto them in the child overwrites neither end
        cmd_r, out_w = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in fds)

        def child_fds() -> None:
            os.dup2(cmd_r, 3)
            os.dup2(out_w, 4)

        args = [chromium(), *FLAGS, f"--user-data-dir={tmp / 'cdp-profile'}"]
        self.proc = subprocess.Popen(
            [*args, "--remote-debugging-pipe", "about:blank"],
            preexec_fn=child_fds,
            pass_fds=(3, 4),  # (fds are closed after preexec_fn: keep the two it made)
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for fd in (cmd_r, out_w, *fds):
            os.close(fd)
        self._id, self._buf, self.events = 0, b"", []
        self.session: str | None = None

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self._cmd, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._id:
                assert "error" not in reply, reply
                return reply.get("result", {})  # type: ignore[no-any-return]
            self.events.append(reply)

    def _read(self, timeout: float = 60.0) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = end - time.monotonic()
            assert left > 0, "Chromium did not answer over the DevTools pipe"
            if select.select([self._out], [], [], left)[0]:
                chunk = os.read(self._out, 1 << 16)
                assert chunk, "Chromium closed the DevTools pipe"
                self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)  # type: ignore[no-any-return]

    def wait_event(self, method: str) -> None:
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read())

    def eval(self, js: str) -> Any:
        r = self.send("Runtime.evaluate", expression=js, returnByValue=True)
        return r["result"].get("value")

    def click(self, js_element: str) -> None:
        """A real left click (press and release) at the middle of an element."""
        box = self.eval(f"JSON.stringify(({js_element}).getBoundingClientRect())")
        r = json.loads(box)
        x, y = r["x"] + r["width"] / 2, r["y"] + r["height"] / 2
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        finally:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            os.close(self._cmd)
            os.close(self._out)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    b = Browser(tmp_path)
    yield b
    b.close()


def test_trace_html_click_through_with_real_mouse_events(
    page: tuple[Path, viz.BackwardTrace], browser: Browser
) -> None:
    html, tr = page
    targets = browser.send("Target.getTargets")["targetInfos"]
    tid = next(t["targetId"] for t in targets if t["type"] == "page")
    browser.session = browser.send("Target.attachToTarget", targetId=tid, flatten=True)["sessionId"]
    browser.send("Page.enable")
    browser.send("Page.navigate", url=html.as_uri())
    browser.wait_event("Page.loadEventFired")
    assert browser.eval("document.body.dataset.step") == "0"
    n_steps = len(tr.steps)
    assert browser.eval("document.getElementById('counter').textContent") == f"step 0 of {n_steps}"
    for k in range(1, n_steps + 1):
        browser.click("document.getElementById('next')")
        assert browser.eval("document.body.dataset.step") == str(k)
        assert tr.steps[k - 1].label in browser.eval("document.getElementById('step').innerText")
    assert browser.eval("document.getElementById('next').disabled") is True
    browser.click("document.getElementById('prev')")
    assert browser.eval("document.body.dataset.step") == str(n_steps - 1)

    # click on the leaf w1's box: the panel shows its value and its complete gradient
    find = (
        "[...document.querySelectorAll('#graph g.node')]"
        ".find(g => g.querySelector('text') && [...g.querySelectorAll('text')]"
        ".some(t => t.textContent === 'w1'))"
    )
    browser.click(find)
    info = browser.eval("document.getElementById('info').innerText")
    assert info.startswith("w1")
    w1 = next(n for n in tr.order if tr.label(n) == "w1")
    assert "-3" in info.split("gradient")[0]  # its value
    want = float(tr.grads[id(w1)])
    np.testing.assert_allclose(want, 2.0 * (1 - np.tanh(0.8813735870195432) ** 2 + 0.5), rtol=1e-5)
    shown = float(browser.eval("document.getElementById('grad').innerText").split("\n")[0])
    np.testing.assert_allclose(shown, want, rtol=1e-3)
