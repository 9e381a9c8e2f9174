"""Which web origins may call the local HTTP API (commands, /graphql, the console's JSON routes, WebSockets).

A browser lets any page POST ``text/plain`` to any host without a preflight, and open a WebSocket anywhere; both
carry an ``Origin`` header, which a page cannot forge. So a request with an ``Origin`` is served only when that
origin is the server's own (``http://<host>:<port>``; on a loopback address also ``localhost``, ``127.0.0.1`` and
``[::1]`` at that port; bound to every address, those loopback ones) or one given with ``chronicle local --cors-origin ORIGIN``. Requests without an ``Origin``
(curl, the SDKs, the CLI, same-origin page loads) are not affected. The Host header is never trusted for this:
under DNS rebinding a foreign page's requests name the page's own host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
_WILDCARDS = ("", "0.0.0.0", "::")


def own_origins(host: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """The origins served: the server's own at ``port`` and the ``--cors-origin`` list (without a trailing /)."""
    names = {f"[{host}]" if ":" in host else host}
    if host in _WILDCARDS or _is_loopback(host):
        names.update(_LOOPBACK_NAMES)  # a wildcard bind serves loopback too; a LAN address needs --cors-origin
    return frozenset({f"http://{name}:{port}" for name in names} | {o.strip().rstrip("/") for o in extra if o.strip()})


def allowed(origin: str | None, origins: frozenset[str]) -> bool:
    """Whether a request carrying ``origin`` (None: no Origin header) may be served."""
    if origin is None:
        return True
    origin = origin.strip().rstrip("/")
    return origin in origins


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"

