"""One Chromium per test module: each test opens its own context (cookies, storage) in
it, so tests stay apart without paying for a browser start each. Not one per session:
Playwright's sync API keeps an event loop running in the main thread while it lives,
and later modules call asyncio.run()."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.support.browser import chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched
