"""Start the local runtime for end-to-end tests: in-process (LocalRuntime) or as `chronicle local` in a subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest
from local_helpers import ROOT, CliRuntime


@pytest.fixture
def cli_runtime():
    started: list[CliRuntime] = []

    def start(state_dir: Path, ephemeral: bool = False, inject: list[str] | None = None) -> CliRuntime:
        rt = CliRuntime(state_dir, ephemeral, inject)
        started.append(rt)
        return rt

    yield start
    for rt in started:
        if rt.proc.poll() is None:
            rt.proc.kill()
            rt.proc.wait()


@pytest.fixture(scope="session")
def runtime(tmp_path_factory):
    """One in-process runtime (ephemeral) for the whole session."""
    from chronicle.local.runtime import LocalRuntime

    rt = LocalRuntime(root=ROOT, port=0, ephemeral=True).start()
    yield rt
    rt.stop()
