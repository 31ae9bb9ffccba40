"""Fixtures of the browser tests: one headless Chromium for the session, pages that fail the
test on a console error."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _browser import CHROMIUM, CHROMIUM_ARGS, Page
from tests.conftest import require_tool


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright, launched once with the flags we use."""
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
