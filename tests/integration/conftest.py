"""Fixtures of the browser tests: one headless Chromium per test module, pages that fail the
test on a console error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _browser import CHROMIUM, CHROMIUM_ARGS, Page
from tests.conftest import require_tool


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright, launched once per module with the flags we use.

    Not once per session: Playwright's sync API keeps an event loop marked running in the main
    thread while it lives, and pytest-xdist runs the biggest files first, so a unit test's
    asyncio.run() could come after a browser module in the same worker and be refused."""
    require_tool("chromium")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415  # after the tool check

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Page]]:
    """``new_page(area=..., dark=..., width=..., height=...)``: pages closed after the test,
    which fails if any of them logged a console error or threw (see ``Page.allowed_errors``)."""
    pages: list[Page] = []

    def make(**kwargs: Any) -> Page:
        page = Page(browser, **kwargs)
        pages.append(page)
        return page

    yield make
    errors = [e for p in pages for e in p.unexpected_errors()]
    for p in pages:
        p.close()
    if errors:
        pytest.fail(f"console errors: {errors}")


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    """A 1366x768 light page (screenshots under artifacts/hub/)."""
    return new_page()
