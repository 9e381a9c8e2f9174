"""Start the local runtime for end-to-end tests: in-process (LocalRuntime) or as `chronicle local` in a subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import browser, page  # noqa: F401 - headless Chromium fixtures for the console's tests
from local_helpers import ADMIN, ROOT, CliRuntime


@pytest.fixture
def cli_runtime():
    started: list[CliRuntime] = []

    def start(state_dir: Path, ephemeral: bool = False, inject: list[str] | None = None,
              extra: list[str] | None = None) -> CliRuntime:
        rt = CliRuntime(state_dir, ephemeral, inject, extra)
        started.append(rt)
        return rt

    yield start
    for rt in started:
        if rt.proc.poll() is None:
            rt.proc.kill()
            rt.proc.wait()


_HERE = Path(__file__).resolve().parent
_last_test: list[str] = []  # node id of the last end-to-end test of the run
_running: list = []  # the shared runtime, once started


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    mine = [item for item in items if _HERE in Path(item.path).resolve().parents]
    _last_test[:] = [mine[-1].nodeid] if mine else []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Stop the shared runtime after the last end-to-end test, not at the session's end: alive, it would keep its
    pollers reading moto while later tests reset moto's backends, and keep moto patched under them."""
    result = yield
    if _running and [item.nodeid] == _last_test:
        _running.pop().stop()
    return result


@pytest.fixture(scope="session")
def runtime(tmp_path_factory):
    """One in-process runtime (ephemeral) for the end-to-end tests."""
    from chronicle.local.runtime import LocalRuntime

    rt = LocalRuntime(root=ROOT, port=0, ephemeral=True, admins=[ADMIN]).start()
    _running.append(rt)
    yield rt
    rt.stop()
