"""A listening TCP socket, bound before a server starts (so a taken port is one clear line)."""

from __future__ import annotations

import socket


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound to (host, port), listening, inheritable by a server's workers. Raises
    ``socket.gaierror`` for a name that does not resolve and ``OSError`` for a port that
    cannot be had (taken, privileged): the caller words it for its flag."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def datagram_socket(host: str, port: int) -> socket.socket:
    """A bound UDP socket (a syslog receiver's), with the errors of ``listening_socket``."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind(addr)
    except OSError:
        sock.close()
        raise
    return sock
