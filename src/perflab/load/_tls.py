"""The TLS context of every https connection perflab load opens (the engine's and the
pre-flight check's)."""

from __future__ import annotations

import ssl


def tls_context() -> ssl.SSLContext:
    """Certificates are not verified (as wrk and hey do): the target is under test, not trust."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
