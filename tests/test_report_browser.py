"""The report in a real browser: Chromium (Debian's ``chromium`` package; CI installs it with
``apt-get install -y chromium``), headless, driven through the DevTools protocol over ``--remote-debugging-pipe``
(standard library only: JSON messages separated by NUL bytes on file descriptors 3 and 4).

Checked: the page renders (a screenshot that is not blank), no broken image, no console error, no request other
than the report file itself and its ``data:`` images. Skipped, with the reason, when Chromium is absent.
"""

from __future__ import annotations

import base64
import io
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from _format_helpers import brain_and_network

import neurosuper as ns
from neurosuper.pipeline import Step
from neurosuper.report import report

pytestmark = pytest.mark.browser

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


def _browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


class DevTools:
    """A minimal DevTools-protocol client over Chromium's ``--remote-debugging-pipe`` (fd 3 in, fd 4 out)."""

    def __init__(self, binary: str, user_data_dir: str, timeout: float = 60.0) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def plumb() -> None:  # in the child: the browser reads commands on fd 3 and writes replies on fd 4
            r, w = os.dup(to_child_r), os.dup(from_child_w)  # (either may be 3 or 4 already)
            os.dup2(r, 3)
            os.dup2(w, 4)

        # fds 3 and 4 are kept open in the child (pass_fds: closing the others happens after preexec_fn)
        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4, to_child_r, from_child_w),
            preexec_fn=plumb,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.timeout = timeout
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from the browser")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise ConnectionError("the browser closed its DevTools pipe")
                self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float | None = None) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            event = self._read_message(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def drain(self, seconds: float) -> None:
        """Collect the events that arrive within ``seconds``."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read_message(deadline))
        except TimeoutError:
            pass

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError, TimeoutError, ConnectionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass


def open_in_browser(html: Path, *, width: int = 1280, height: int = 900) -> dict:
    """Load ``html`` in headless Chromium; return the page's requests, console/log errors, images and a
    full-page screenshot (PNG bytes)."""
    binary = _browser()
    if binary is None:
        pytest.skip("Chromium is not installed (CI installs it: apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="ns-chromium-") as profile:
        tools = DevTools(binary, profile)
        try:
            target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                tools.send(f"{domain}.enable", session=session)
            tools.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            tools.events.clear()
            tools.send("Page.navigate", {"url": html.resolve().as_uri()}, session=session)
            tools.wait_for("Page.loadEventFired")
            tools.drain(1.0)  # late console messages and requests
            images = tools.send(
                "Runtime.evaluate",
                {
                    "returnByValue": True,
                    "expression": (
                        "Array.from(document.images).map(i => ({src: i.src.slice(0, 30), complete: i.complete, "
                        "w: i.naturalWidth, h: i.naturalHeight}))"
                    ),
                },
                session=session,
            )["result"]["value"]
            sections = tools.send(
                "Runtime.evaluate",
                {
                    "returnByValue": True,
                    "expression": ("Array.from(document.querySelectorAll('main section')).map(s => s.id)"),
                },
                session=session,
            )["result"]["value"]
            shot = tools.send(
                "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False}, session=session
            )["data"]
        finally:
            tools.close()
    events = [e for e in tools.events if e.get("sessionId") == session]
    requests = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
    console = [
        e["params"]
        for e in events
        if e.get("method") == "Runtime.consoleAPICalled" and e["params"].get("type") in ("error", "assert")
    ]
    exceptions = [e["params"] for e in events if e.get("method") == "Runtime.exceptionThrown"]
    log_errors = [
        e["params"]["entry"]
        for e in events
        if e.get("method") == "Log.entryAdded" and e["params"]["entry"].get("level") == "error"
    ]
    failed = [e["params"] for e in events if e.get("method") == "Network.loadingFailed"]
    return {
        "requests": requests,
        "console": console,
        "exceptions": exceptions,
        "log_errors": log_errors,
        "failed": failed,
        "images": images,
        "sections": sections,
        "screenshot": base64.b64decode(shot),
    }


def _small_sets(n: int = 60):
    return brain_and_network(
        n, side=20, n_brain=30, n_latent=20, n_net=16, areas=(("V1", 20), ("V2", 10)), layers=(("l1", 8), ("l2", 8))
    )


def _figures_step(ctx):
    """A quick analysis step drawing both kinds of figure the report embeds: line plots and image grids."""
    import warnings

    from neurosuper.plot.interpret import plot_mei_grid
    from neurosuper.plot.spectral import plot_spectrum

    block = {}
    for label, ds in ctx.sets.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ns.NeurosuperWarning)
            spec = ns.spectral.eigenspectrum(ds, method="pca", n_boot=0, groupby=None, progress=False)
            try:
                fit = ns.spectral.powerlaw(spec)
            except ns.errors.NotEnoughData:  # 30 and 16 units: too few ranks for α; the spectrum is drawn alone
                fit = None
        ii = ns.interpret.interpretability_index(ds, similarity="pixels", null="none", progress=False)
        block[label] = {**ns.spectral.summary(*(r for r in (spec, fit) if r is not None)), **ns.interpret.summary(ii)}
        ctx.figure(f"{label}_spectrum.png", plot_spectrum(spec, fit, title=label), f"Spectrum of {label}.", dpi=90)
        ctx.figure(f"{label}_meis.png", plot_mei_grid(ds, ii, n_units=4), f"MEIs of {label}.", dpi=90)
    ctx.summary["figures"] = block


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    if _browser() is None:
        pytest.skip("Chromium is not installed (CI installs it: apt-get install -y chromium)")
    brain, net = _small_sets()
    out = tmp_path_factory.mktemp("report")
    steps = [Step("figures", _figures_step, title="Figures", description="spectra and MEI grids")]
    path = report(brain, net, out=out / "r", progress=False, steps=steps).report
    return path, open_in_browser(path)


def test_page_renders_and_is_not_blank(rendered):
    from PIL import Image, ImageStat

    _, seen = rendered
    shot = Image.open(io.BytesIO(seen["screenshot"])).convert("L")
    assert shot.size == (1280, 900)
    stat = ImageStat.Stat(shot)
    assert stat.stddev[0] > 10  # text, tables and rules on white: far from a uniform page
    dark = sum(shot.histogram()[:128]) / (shot.width * shot.height)
    assert 0.002 < dark < 0.5  # some ink, but not a black screen
    assert seen["sections"] == ["summary", "inputs", "steps", "figures", "provenance"]


def test_every_image_loads(rendered):
    path, seen = rendered
    assert len(seen["images"]) == path.read_text().count("<img ")
    assert seen["images"], "the report embeds figures"
    broken = [i for i in seen["images"] if not i["complete"] or i["w"] == 0 or i["h"] == 0]
    assert broken == []
    assert all(i["src"].startswith("data:image/") for i in seen["images"])


def test_no_console_error_and_no_request(rendered):
    path, seen = rendered
    assert seen["console"] == [] and seen["exceptions"] == [] and seen["log_errors"] == []
    assert seen["failed"] == []
    remote = [u for u in seen["requests"] if not (u.startswith("data:") or u == path.resolve().as_uri())]
    assert remote == []
    assert path.resolve().as_uri() in seen["requests"]  # the network domain did record the page's own load


def test_a_remote_resource_would_be_seen_and_blocked(tmp_path):
    """The check above can fail: a page asking for a remote image is caught (and the report's policy blocks it)."""
    from neurosuper.report._render import CSP

    page = tmp_path / "bad.html"
    page.write_text(
        f"<!DOCTYPE html><html><head><meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
        "</head><body><p>x</p><img src='http://192.0.2.1/x.png'></body></html>"
    )
    seen = open_in_browser(page)
    blocked = [e for e in seen["log_errors"] + seen["console"] if "192.0.2.1" in json.dumps(e)]
    assert blocked, "the Content-Security-Policy violation is reported"
    assert [i for i in seen["images"] if i["w"] == 0], "the remote image did not load"
