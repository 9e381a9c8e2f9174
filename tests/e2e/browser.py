"""Headless Chromium for the console's tests: Debian's `chromium` driven by Playwright for Python.

Playwright's own browser download is not used (`executable_path`): `make test` installs Debian's chromium
(Makefile: browser). Tests skip, saying why, only when no chromium or no Playwright can be found."""

from __future__ import annotations

import os
import shutil

import pytest

CANDIDATES = [os.environ.get("CHROMIUM", ""), "/usr/bin/chromium", "/usr/bin/chromium-browser"]


def chromium_path() -> str | None:
    for candidate in CANDIDATES:
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("no chromium on this machine (make browser installs Debian's chromium: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (make setup installs the dev extras)")
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs the tests as root, where Chromium's sandbox refuses to start.
        instance = playwright.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    tab = context.new_page()
    yield tab
    context.close()
