"""perflab's side of the debug agent: find a process's agent by its socket path and GET a path."""

from __future__ import annotations

import errno
import json
import socket
import urllib.parse
from typing import TYPE_CHECKING, Any

from perflab.debug import _agent
from perflab.errors import AccessDenied, TargetError

if TYPE_CHECKING:
    from pathlib import Path

ENABLE_HINT = ("start the agent in it: perflab.debug.enable() in its code, PERFLAB_DEBUG=1 in "
               "its environment, or run it with perflab run --debug -- python app.py")
MAX_ANSWER = 64 * 1024 * 1024


class AgentError(TargetError):
    """The agent answered with an error status."""


def has_agent(pid: int, directory: Path | None = None) -> bool:
    """Whether process ``pid`` has a live agent: its socket is there and takes a connection.

    A socket that refuses is a dead process's leftover, and its PID may be another program's
    now (a native program whose leak is then found by other means, not refused for it). A
    socket that cannot be reached for another reason (permission) counts as there, so that
    ``agent_get`` says why."""
    sock_path = _agent.socket_path(pid, directory)
    if not sock_path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(5.0)
        try:
            with _agent.unix_address(sock_path) as address:
                probe.connect(address)
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        except OSError:
            return True
    return True


def agent_get(pid: int, path: str, query: dict[str, str] | None = None, *,
              timeout: float = 30.0, directory: Path | None = None) -> Any:  # JSON
    """GET ``path`` from the agent of process ``pid`` and return the decoded JSON answer."""
    sock_path = _agent.socket_path(pid, directory)
    target = path + ("?" + urllib.parse.urlencode(query) if query else "")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        try:
            with _agent.unix_address(sock_path) as address:
                conn.connect(address)
        except FileNotFoundError as exc:
            raise TargetError(f"process {pid} has no perflab debug agent ({sock_path} is missing)",
                              hint=ENABLE_HINT) from exc
        except ConnectionRefusedError as exc:
            raise TargetError(f"the debug agent of process {pid} is gone ({sock_path} is a "
                              "leftover socket)", hint=ENABLE_HINT) from exc
        except PermissionError as exc:
            raise AccessDenied(f"no permission to connect to {sock_path}",
                               hint="run perflab as the process's user (or root)") from exc
        except OSError as exc:
            raise TargetError(f"cannot reach the debug agent of process {pid}: "
                              f"{errno.errorcode.get(exc.errno or 0, exc)}") from exc
        try:
            conn.sendall(f"GET {target} HTTP/1.0\r\nHost: agent\r\n\r\n".encode())
            data = _read_all(conn)
        except TimeoutError as exc:
            raise TargetError(f"the debug agent of process {pid} did not answer {path} within "
                              f"{timeout:g} s") from exc
        except OSError as exc:
            raise TargetError(f"the debug agent of process {pid} dropped {path}: {exc}") from exc
    return _decode(pid, path, data)


def _read_all(conn: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := conn.recv(1 << 16):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_ANSWER:
            msg = "answer larger than 64 MiB"
            raise OSError(msg)
    return b"".join(chunks)


def _decode(pid: int, path: str, data: bytes) -> Any:  # JSON
    head, sep, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if not sep or len(status_line) < 2 or not status_line[1].isdigit():
        raise TargetError(f"the debug agent of process {pid} answered {path} with no HTTP "
                          "status line")
    status = int(status_line[1])
    try:
        answer = json.loads(body)
    except ValueError as exc:
        raise TargetError(f"the debug agent of process {pid} answered {path} with invalid "
                          "JSON") from exc
    if status != 200:
        error = answer.get("error", "") if isinstance(answer, dict) else ""
        raise AgentError(f"the debug agent of process {pid} answered {path} with {status}: "
                         f"{error}")
    return answer
