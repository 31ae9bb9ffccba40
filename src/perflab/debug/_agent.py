"""The Python debug agent: a daemon thread in the user's process answering HTTP/1.0 GET on a
unix socket, ``$PERFLAB_DEBUG_DIR/<pid>.sock`` (default directory ``/tmp/perflab-debug-<uid>``).

The directory is mode 0700 and the socket 0600: filesystem permissions are the access rule, so
there is no TCP port and no token. ``curl --unix-socket SOCK http://x/tracemalloc/totals`` works.

Handlers live in one table, filled by ``register(path, handler)``; a handler takes the query
string as a ``dict[str, str]`` and returns something ``json.dumps`` accepts. A handler that raises
``ValueError`` answers 400 with its message; any other exception answers 500 with its type and
message, and the agent keeps serving: it must never take the user's process down.

This module imports the standard library only: it runs inside the user's process, which may
not have perflab's dependencies (``perflab run --debug`` puts perflab on the path of any Python).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Handler = Callable[[dict[str, str]], Any]

ENV_ENABLE = "PERFLAB_DEBUG"
ENV_DIR = "PERFLAB_DEBUG_DIR"
MAX_REQUEST = 8192          # request line + headers: a GET needs far less
CLIENT_TIMEOUT = 5.0        # a silent client does not hold the agent's thread for long

_HANDLERS: dict[str, Handler] = {}
_LOCK = threading.Lock()
_STATE: dict[str, Any] = {"pid": None, "thread": None, "sock": None, "path": None}


def register(path: str, handler: Handler) -> None:
    """Answer GET ``path`` with ``handler(query)``. Registering a path again replaces it."""
    if not path.startswith("/"):
        msg = f"agent paths start with '/': {path!r}"
        raise ValueError(msg)
    with _LOCK:
        _HANDLERS[path] = handler


def debug_dir() -> Path:
    """Where agents put their sockets: ``$PERFLAB_DEBUG_DIR`` or ``/tmp/perflab-debug-<uid>``."""
    configured = os.environ.get(ENV_DIR)
    return Path(configured) if configured else Path(f"/tmp/perflab-debug-{os.getuid()}")  # noqa: S108  # a private 0700 directory, checked before use


def socket_path(pid: int, directory: Path | None = None) -> Path:
    """The agent socket of process ``pid``."""
    return (directory or debug_dir()) / f"{pid}.sock"


UNIX_PATH_MAX = 107  # sun_path holds 108 bytes with the terminating NUL


@contextlib.contextmanager
def unix_address(path: Path) -> Iterator[str]:
    """An address for ``bind``/``connect`` that names ``path`` even when it is longer than a
    unix socket address may be (a deep ``$PERFLAB_DEBUG_DIR``, a test's temporary folder): the
    folder is opened and named through ``/proc/self/fd``, which the kernel resolves."""
    if len(os.fsencode(path)) <= UNIX_PATH_MAX:
        yield str(path)
        return
    folder = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)


def _private_dir(directory: Path) -> None:
    """Create ``directory`` 0700, or accept it only if it is ours and not open to others."""
    with contextlib.suppress(FileExistsError):
        directory.mkdir(mode=0o700, parents=True)
    info = directory.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        msg = f"{directory} is not a directory owned by uid {os.getuid()}"
        raise PermissionError(msg)
    if info.st_mode & 0o077:
        directory.chmod(0o700)


def enable(directory: Path | None = None) -> Path:
    """Start the agent (idempotent; after a fork the child starts its own). Returns the socket
    path. The tracemalloc handlers are registered here; other modules register theirs when
    they are imported."""
    from perflab.debug import _lockwatch, _tracemalloc  # noqa: PLC0415  # stdlib-only

    _tracemalloc.install()
    _lockwatch.install()  # /threads, /locks
    _lockwatch.enable_from_env()  # PERFLAB_LOCKWATCH=1: watch locks made from now on
    with _LOCK:
        if _STATE["pid"] == os.getpid() and _STATE["thread"] is not None:
            return Path(_STATE["path"])
        where = directory or debug_dir()
        _private_dir(where)
        path = socket_path(os.getpid(), where)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a socket left by a dead process that had our pid
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # the socket is created 0600, with no window
        try:
            with unix_address(path) as address:
                server.bind(address)
        finally:
            os.umask(old_umask)
        server.listen(16)
        thread = threading.Thread(target=_serve, args=(server,), name="perflab-debug-agent",
                                  daemon=True)
        _STATE.update(pid=os.getpid(), thread=thread, sock=server, path=str(path))
        thread.start()
    _cleanup_at_exit()
    return path


def disable() -> None:
    """Stop serving and remove the socket (tests; the socket also goes at interpreter exit)."""
    with _LOCK:
        server, path, pid = _STATE["sock"], _STATE["path"], _STATE["pid"]
        _STATE.update(pid=None, thread=None, sock=None, path=None)
    if server is not None and pid == os.getpid():
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)
        server.close()
        with contextlib.suppress(FileNotFoundError):
            Path(path).unlink()


_REGISTERED_EXIT = [False]


def _cleanup_at_exit() -> None:
    import atexit  # noqa: PLC0415  # only when the agent runs

    if not _REGISTERED_EXIT[0]:
        _REGISTERED_EXIT[0] = True
        atexit.register(disable)


def _serve(server: socket.socket) -> None:
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return  # closed by disable()
        # one thread per request: a slow handler (a big snapshot) does not block a /threads
        threading.Thread(target=_answer, args=(conn,), name="perflab-debug-request",
                         daemon=True).start()


def _answer(conn: socket.socket) -> None:
    with conn:
        conn.settimeout(CLIENT_TIMEOUT)
        try:
            head = _read_head(conn)
        except (OSError, ValueError):
            return
        status, body = respond(head)
        payload = json.dumps(body, default=str).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
                  500: "Internal Server Error"}[status]
        header = (f"HTTP/1.0 {status} {reason}\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n")
        with contextlib.suppress(OSError):
            conn.sendall(header.encode() + payload)


def _read_head(conn: socket.socket) -> str:
    data = b""
    while b"\r\n\r\n" not in data and b"\n\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            msg = "request too long"
            raise ValueError(msg)
    return data.decode("latin-1")


def respond(head: str) -> tuple[int, Any]:
    """The status and JSON body answering one request head (the request line and headers)."""
    parts = head.split("\n", 1)[0].split()
    if len(parts) < 2:  # METHOD TARGET [VERSION]
        return 400, {"error": "malformed request line"}
    method, target = parts[0], parts[1]
    if method != "GET":
        return 405, {"error": f"only GET is served, not {method[:20]}"}
    url = urllib.parse.urlsplit(target)
    query = dict(urllib.parse.parse_qsl(url.query))
    with _LOCK:
        handler = _HANDLERS.get(url.path)
        paths = sorted(_HANDLERS)
    if url.path == "/":
        return 200, {"pid": os.getpid(), "paths": paths}
    if handler is None:
        return 404, {"error": f"no handler for {url.path[:200]}", "paths": paths}
    try:
        return 200, handler(query)
    except ValueError as exc:
        return 400, {"error": str(exc)}
    except Exception as exc:  # the agent must outlive any handler's failure
        return 500, {"error": f"{type(exc).__name__}: {exc}"}


def enable_from_env() -> Path | None:
    """Start the agent when ``PERFLAB_DEBUG`` is set to a true value (``1``, ``true``, ``yes``)."""
    if os.environ.get(ENV_ENABLE, "").strip().lower() in {"1", "true", "yes", "on"}:
        return enable()
    return None
