"""What `sam local invoke` users type, for `chronicle invoke` (chronicle.local.invoke):

- ``--env-vars FILE``: SAM's JSON, ``{"<FunctionLogicalId>": {"VAR": "value"}, "Parameters": {"VAR": "value"}}``
  (``Parameters`` applies to every function, the function's own entry wins);
- ``--parameter-overrides 'Key=Value Key2=Value2'`` (or SAM's ``ParameterKey=K,ParameterValue=V``): stack
  parameters of the fresh stack;
- ``--debug-port N``: the handler waits for a debugger on 127.0.0.1:N before it runs (:func:`debug_call`);
- the REPORT line's figures (:func:`report_line`) and Lambda's ``[ERROR]`` log line (:func:`error_lines`).
"""

from __future__ import annotations

import json
import re
import resource
import shlex
import socket
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


class OptionError(ValueError):
    """A malformed option value: one line for the user (exit code 2)."""


def env_vars(path: str | None, names: tuple[str, ...]) -> dict[str, str]:
    """The variables SAM's --env-vars file gives the function known by any of ``names``."""
    if path is None:
        return {}
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise OptionError(f"cannot read --env-vars {path}: {error}") from None
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
        raise OptionError(f"--env-vars {path}: expected {{\"FunctionName\": {{\"VAR\": \"value\"}}, "
                          "\"Parameters\": {...}}")
    out = {k: _env_value(v) for k, v in (doc.get("Parameters") or {}).items()}
    for name in names:
        out.update({k: _env_value(v) for k, v in (doc.get(name) or {}).items()})
    return out


def _env_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


_SAM_STYLE = re.compile(r"^ParameterKey=([^,]+),ParameterValue=(.*)$")


def parameter_overrides(text: str | None) -> dict[str, str]:
    """'Key=Value Key2="a b"' or 'ParameterKey=Key,ParameterValue=Value ...' -> {Key: Value}."""
    out: dict[str, str] = {}
    try:
        words = shlex.split(text or "")
    except ValueError as error:
        raise OptionError(f"--parameter-overrides: {error}") from None
    for word in words:
        match = _SAM_STYLE.match(word)
        key, sep, value = (match.group(1), "=", match.group(2)) if match else word.partition("=")
        if not sep or not key:
            raise OptionError(f"--parameter-overrides: {word!r} is not Key=Value")
        out[key] = value
    return out


def report_line(request_id: str, duration_ms: float, init_ms: float | None, memory_size: int) -> str:
    """SAM's REPORT line. Max Memory Used is this process's peak resident size (the local stack runs in it
    too, so it is an upper bound of the handler's own)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux
    init = f"\tInit Duration: {init_ms:.2f} ms" if init_ms is not None else ""
    return (f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: "
            f"{max(1, round(duration_ms + 0.5))} ms\tMemory Size: {memory_size} MB\t"
            f"Max Memory Used: {round(peak_mb)} MB{init}")


def error_lines(exc: BaseException) -> str:
    """What the Lambda Python runtime logs for an unhandled exception."""
    trace = "".join(traceback.format_tb(exc.__traceback__))
    return f"[ERROR] {type(exc).__name__}: {exc}\nTraceback (most recent call last):\n{trace}".rstrip()


def debug_call(port: int, fn: Callable[..., Any], *args: Any, err: Any = None) -> Any:
    """Call fn(*args) once a debugger is attached on 127.0.0.1:port: debugpy when installed (VS Code / PyCharm
    "attach" to the port), else the standard library's pdb served on a TCP socket (`nc 127.0.0.1 PORT`)."""
    err = err or sys.stderr
    try:
        import debugpy  # type: ignore[import-not-found]
    except ImportError:
        debugpy = None
    if debugpy is not None:
        debugpy.listen(("127.0.0.1", port))
        print(f"Waiting for a debugger (debugpy) to attach on 127.0.0.1:{port} ...", file=err, flush=True)
        debugpy.wait_for_client()
        debugpy.breakpoint()
        return fn(*args)
    return _pdb_over_socket(port, fn, args, err)


def _pdb_over_socket(port: int, fn: Callable[..., Any], args: tuple[Any, ...], err: Any) -> Any:
    import pdb

    with socket.create_server(("127.0.0.1", port)) as server:
        print(f"Waiting for a debugger on 127.0.0.1:{port} (debugpy is not installed: pdb, attach with "
              f"`nc 127.0.0.1 {port}`) ...", file=err, flush=True)
        conn, _ = server.accept()
    with conn, conn.makefile("rw", buffering=1) as stream:
        debugger = pdb.Pdb(stdin=stream, stdout=stream)
        debugger.use_rawinput = False
        print(f"Debugger attached; the handler {getattr(fn, '__name__', fn)} starts (`s` steps in, `c` runs)",
              file=err, flush=True)
        return debugger.runcall(fn, *args)
