"""Browser-test helpers shared by the integration tests (fixtures are in conftest.py).

A ``Page`` records console errors and uncaught exceptions; ``shot`` writes screenshots under
artifacts/<area>/ for a human to look at; ``serving`` runs a real ``perflab serve`` for a
``with`` block and checks that it stopped cleanly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from perflab.testing import serve

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright's own browser download does not work here
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def shot(target: Any, area: str, name: str, *, full_page: bool = True) -> Path:
    """Screenshot of a Playwright page (whole page) or locator into artifacts/AREA/NAME.png."""
    path = ARTIFACTS / area / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(target, "goto"):  # a page; a locator has no full_page option
        target.screenshot(path=str(path), full_page=full_page)
    else:
        target.screenshot(path=str(path))
    return path


# Chromium fails every request in flight when the machine's addresses change (a network
# namespace made by another test beside this one, a CI runner's own network): the pages send a
# read cut so again (Perflab.fetch), and ``open`` navigates again, so such a failure is not taken
# for the page's error. The page must still get ready.
NETWORK_CHANGED = "net::ERR_NETWORK_CHANGED"
_CUT_READ = f"Failed to load resource: {NETWORK_CHANGED}"


class Page:
    """A page in its own context that records console errors and uncaught exceptions.

    ``allowed_errors``: substrings of errors the test expects (a 401 before a login); the
    ``page``/``new_page`` fixtures fail the test on any other error."""

    def __init__(self, browser: Any, *, area: str = "hub", dark: bool = False,
                 width: int = 1366, height: int = 768) -> None:
        self.area = area
        self.ctx = browser.new_context(viewport={"width": width, "height": height},
                                       color_scheme="dark" if dark else "light")
        self.page = self.ctx.new_page()
        self.errors: list[str] = []
        self.allowed_errors: tuple[str, ...] = ()
        self.cut_reads = 0
        self.in_flight: dict[str, int] = {}  # URL -> requests sent and not yet answered
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self._flight(r.url, +1))
        self.page.on("requestfinished", lambda r: self._flight(r.url, -1))
        self.page.on("requestfailed", lambda r: self._flight(r.url, -1))

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        if message.text == _CUT_READ:
            self.cut_reads += 1
        else:
            self.errors.append(message.text)

    def _flight(self, url: str, step: int) -> None:
        n = self.in_flight.get(url, 0) + step
        if n > 0:
            self.in_flight[url] = n
        else:
            self.in_flight.pop(url, None)

    def open(self, url: str, ready: str | None = None) -> None:
        try:
            self.page.goto(url)
        except PlaywrightError as exc:
            if NETWORK_CHANGED not in str(exc):
                raise
            self.page.goto(url)
        if ready:
            try:
                self.page.wait_for_function(
                    f"document.body && document.body.dataset.{ready} === '1'", timeout=20_000)
            except PlaywrightTimeout as exc:
                raise AssertionError(f"{url} was not {ready} after 20 s: {self.state()}") from exc

    def state(self) -> str:
        """What the page showed and waited for: a test that timed out says why."""
        try:
            text = self.page.evaluate("() => document.body ? document.body.innerText : ''")
        except PlaywrightError as exc:
            text = f"(unreadable: {exc})"
        return (f"errors {self.errors}, cut reads {self.cut_reads}, requests unanswered "
                f"{self.in_flight}, page text {' '.join(text.split())[:400]!r}")

    def shot(self, name: str) -> Path:
        return shot(self.page, self.area, name)

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(a in e for a in self.allowed_errors)]

    def close(self) -> None:
        self.ctx.close()


@contextlib.contextmanager
def serving(store: Path, *extra: str) -> Iterator[str]:
    """A real ``perflab serve`` over ``store`` for the block; yields its URL. It must stop
    cleanly (exit code 0) when the block ends."""
    with serve(store, *extra, start_timeout_s=60) as hub:
        yield hub.url
    assert hub.returncode == 0, hub.log()
