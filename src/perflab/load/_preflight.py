"""Before a test: can the target be reached at all? A clear error beats a screen of errors."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from perflab.errors import Unreachable

if TYPE_CHECKING:
    from perflab.load._config import Target


def check_reachable(target: Target, timeout_s: float = 5.0) -> None:
    """Connect once (and shake hands for https); raise ``Unreachable`` (exit 3) if it fails."""
    where = f"{target.addr}:{target.port}"
    try:
        sock = socket.create_connection((target.addr, target.port), timeout=timeout_s)
    except ConnectionRefusedError as exc:
        raise Unreachable(f"connection refused by {where} ({target.url})",
                          hint="is the server running and listening on that port?") from exc
    except TimeoutError as exc:
        raise Unreachable(f"no answer from {where} within {timeout_s:g}s ({target.url})",
                          hint="check the address, the port and any firewall") from exc
    except OSError as exc:
        raise Unreachable(f"cannot connect to {where} ({target.url}): {exc.strerror}",
                          hint="check the address and the port") from exc
    try:
        if target.tls:
            import ssl  # noqa: PLC0415  # https only: ssl's import is not on every test's path

            from perflab.load._tls import tls_context  # noqa: PLC0415  # ditto

            try:
                with tls_context().wrap_socket(sock, server_hostname=target.host):
                    pass
            except (ssl.SSLError, OSError) as exc:
                raise Unreachable(f"TLS handshake with {where} failed: {exc}",
                                  hint="is this port serving https? use http:// otherwise"
                                  ) from exc
    finally:
        sock.close()
