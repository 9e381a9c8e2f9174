"""`chronicle local --watch`: edits take effect for the next command, without a restart and without losing state.

A polling thread (:class:`Watcher`) looks at ``src/``, ``functions/``, ``schemas/``, ``statemachine/`` and
``template.yaml`` every ``interval`` seconds. When something changed (and stayed unchanged for one more interval):

- Python under ``src/`` or ``functions/``, or a schema: every changed ``.py`` file must compile and ``schemas/``
  must pass ``chronicle schemas check`` (except its release bookkeeping, see below); then the ``chronicle``
  modules the handlers use are imported afresh and **every** handler is loaded from them, off to the side. Only
  when all of that worked are the new handlers swapped in (one assignment); otherwise the error is printed and
  the previous modules and handlers keep serving.
- ``statemachine/*.asl.json`` or ``template.yaml``: the template is resolved again against the running stack's
  resources; changed state machine definitions are updated in place (UpdateStateMachine), a function's
  Handler, CodeUri, Timeout, MemorySize and Environment are taken over. A change to any other resource (a new
  table, a queue, a rule) is reported as needing a restart: creating, deleting or re-keying stored resources
  under running state is what a restart is for.

Needs a restart (reported when edited): ``src/chronicle/local/`` (the runtime itself: the emulator, its patches,
the server), ``src/chronicle/errors.py`` and ``src/chronicle/strictjson.py`` (the server catches and encodes with
the classes it imported at start), ``api/schema.graphql``.

``chronicle schemas check``'s lock problems (a released command schema changed, a new file not released yet)
are printed as reminders, not refused: they say what CI wants before a commit, while the change itself loads.
State (tables, buckets, executions) lives in the emulator and is never touched by a reload.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

WATCHED = ("src", "functions", "schemas", "statemachine", "template.yaml")
SUFFIXES = (".py", ".json", ".yaml", ".yml")
NEEDS_RESTART = ("src/chronicle/local/", "src/chronicle/errors.py", "src/chronicle/strictjson.py",
                 "src/chronicle/cli.py")
_KEPT_MODULES = {"chronicle", "chronicle.cli", "chronicle.errors", "chronicle.strictjson"}

Snapshot = dict[str, tuple[int, int]]


class ReloadError(Exception):
    """A change that cannot load; the previous version keeps serving."""


def snapshot(root: Path) -> Snapshot:
    """relative path -> (mtime_ns, size) of every watched file."""
    files: Snapshot = {}
    for top in WATCHED:
        base = root / top
        paths = [base] if base.is_file() else base.rglob("*") if base.is_dir() else []
        for path in paths:
            if path.suffix in SUFFIXES and "__pycache__" not in path.parts and path.is_file():
                try:
                    st = path.stat()
                except OSError:
                    continue
                files[path.relative_to(root).as_posix()] = (st.st_mtime_ns, st.st_size)
    return files


def changed_files(before: Snapshot, after: Snapshot) -> list[str]:
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


def _reloadable(name: str) -> bool:
    if name.startswith("chronicle_local_fn_"):
        return True
    return name.startswith("chronicle.") and not name.startswith("chronicle.local") and name not in _KEPT_MODULES


def check_syntax(root: Path, changed: list[str]) -> None:
    for rel in changed:
        path = root / rel
        if rel.endswith(".py") and path.is_file():
            try:
                compile(path.read_bytes(), str(path), "exec")
            except SyntaxError as error:
                raise ReloadError(f"{rel}:{error.lineno}: SyntaxError: {error.msg}") from None
            for stale in path.parent.joinpath("__pycache__").glob(f"{path.stem}.*.pyc"):
                stale.unlink(missing_ok=True)  # an edit within the pyc's mtime second must not load the old code


def check_schemas(root: Path) -> list[str]:
    """`chronicle schemas check` on root/schemas: raises on a problem that stops loading; returns the lock
    reminders (release bookkeeping for CI, not a reason to keep the old schema)."""
    from chronicle.schemas.check import CheckReport, _check_lock, run_check

    schemas = root / "schemas"
    report = run_check(schemas, root)
    lock = CheckReport()
    _check_lock(schemas, lock)
    blocking = [p for p in report.problems if p not in lock.problems]
    if blocking:
        raise ReloadError("schemas check failed:\n" + "\n".join(f"    x {p}" for p in blocking))
    return [p for p in report.problems if p in lock.problems]


def load_fresh(specs: dict[str, Any]) -> dict[str, Callable[..., Any]]:
    """Import the chronicle modules and every handler afresh; on any failure put the previous modules back."""
    from .seam import HandlerRegistry

    old = {name: module for name, module in sys.modules.items() if _reloadable(name)}
    for name in old:
        del sys.modules[name]
    importlib.invalidate_caches()
    try:
        return {name: HandlerRegistry._load(name, spec) for name, spec in specs.items()}
    except BaseException as error:
        for name in [n for n in sys.modules if _reloadable(n)]:
            del sys.modules[name]
        _restore(old)
        where = traceback.extract_tb(error.__traceback__)[-1]
        raise ReloadError(f"{type(error).__name__}: {error} ({where.filename}:{where.lineno})") from None


def _restore(modules: dict[str, Any]) -> None:
    sys.modules.update(modules)
    for name, module in modules.items():  # `import chronicle.x` reads the attribute on the parent package
        parent, _, child = name.rpartition(".")
        if parent in sys.modules:
            setattr(sys.modules[parent], child, module)


class Watcher:
    """Polls the project and reloads what changed (see the module doc). ``report`` prints one message."""

    def __init__(self, runtime: Any, interval: float = 0.5, report: Callable[[str], None] | None = None) -> None:
        self.runtime = runtime
        self.root = Path(runtime.root)
        self.interval = interval
        self.report = report or (lambda message: print(message, flush=True))
        self.reloads = 0  # successful reloads
        self.failures = 0  # changes refused (the previous version kept serving)
        self.last_error: str | None = None
        self._files = snapshot(self.root)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chronicle-watch", daemon=True)
        from .reload_stack import StackReloader

        self.stack = StackReloader(runtime)

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - the watcher must outlive any surprise; say what happened
                self.report("[watch] unexpected error (still watching):\n" + traceback.format_exc())

    def poll(self) -> list[str]:
        """Look once; apply a settled change. Returns the files acted on."""
        current = snapshot(self.root)
        if current == self._files:
            return []
        while True:  # an editor's save, a git checkout: wait until the files stop moving
            time.sleep(self.interval)
            settled = snapshot(self.root)
            if settled == current:
                break
            current = settled
        changed = changed_files(self._files, current)
        self._files = current
        self.apply(changed)
        return changed

    def apply(self, changed: list[str]) -> bool:
        restart = [p for p in changed if p.startswith(NEEDS_RESTART)]
        if restart:
            self.report(f"[watch] {', '.join(restart)} changed: this part is the running runtime itself; "
                        "restart `chronicle local` for it to take effect (state is kept)")
        rest = [p for p in changed if p not in restart]
        if not rest:
            return False
        try:
            notes = self._reload(rest)
        except ReloadError as error:
            self.failures += 1
            self.last_error = str(error)
            self.report(f"[watch] NOT reloaded, the previous version keeps serving: {error}")
            return False
        self.reloads += 1
        self.last_error = None
        self.report(f"[watch] reloaded ({', '.join(rest)})" + "".join(f"\n    note: {n}" for n in notes))
        return True

    def _reload(self, changed: list[str]) -> list[str]:
        notes: list[str] = []
        check_syntax(self.root, changed)
        if any(p.startswith("schemas/") for p in changed):
            notes += check_schemas(self.root)
        plan = None
        if any(p == "template.yaml" or p.startswith("statemachine/") for p in changed):
            plan = self.stack.plan()  # resolves everything first: a broken template changes nothing
            notes += plan.notes
        registry = self.runtime.registry
        specs = {**registry.specs(), **(plan.handlers if plan else {})}
        handlers = load_fresh(specs)
        if plan:
            self.stack.apply(plan)
        registry.replace(specs, handlers)
        return notes


def start_watching(runtime: Any, interval: float = 0.5) -> Watcher:
    """Watch runtime's project. Schemas are read from the watched project's schemas/ from then on."""
    import os

    if (Path(runtime.root) / "schemas" / "commands").is_dir():
        os.environ["CHRONICLE_SCHEMAS_DIR"] = str(Path(runtime.root) / "schemas")
    registry = runtime.registry
    for name in registry.specs():  # loaded now, so that a broken edit before the first command has a version to keep
        registry.handler(name)
    return Watcher(runtime, interval).start()
