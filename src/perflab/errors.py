"""The exception tree of perflab. Every error a user can cause carries its exit code and a hint.

    PerflabError (exit 1)                  base; never raised itself
    ├── CheckFailed (exit 1)               the check the user asked for failed (a regression)
    │   └── ThresholdsFailed (exit 99)     load-test thresholds missed (k6's code)
    ├── UsageError (exit 2)                bad usage or bad input
    │   ├── InvalidValue                   a value that does not parse (duration, size, label ...)
    │   └── InvalidFile                    a malformed input file (names file and line)
    ├── StoreError (exit 2)                the store cannot be used
    │   ├── StoreCorrupt                   not a perflab store, or damaged: refused, untouched
    │   ├── StoreTooNew                    written by a newer perflab: refused, never rewritten
    │   ├── StoreUnwritable                path not writable (or read-only, for a writing command)
    │   └── StoreFull (exit 3)             the disk (or filesystem quota) is full: what was
    │                                      committed is kept; the file is fine once space is freed
    ├── NotFound (exit 2)                  a run, series or benchmark the user named does not exist
    ├── TargetError (exit 3)               the target could not be reached or inspected
    │   ├── NoSuchProcess                  no process with that PID (or it exited)
    │   ├── AccessDenied                   permission denied on another user's process or a facility
    │   └── Unreachable                    a URL or port that cannot be reached
    └── ToolMissing (exit 3)               an optional system tool (perf, bpftrace, go) is absent

Foreign exceptions (OSError, sqlite3.Error, psutil errors) are translated at the boundary with
``raise ... from exc`` so that ``main()`` only ever sees this tree.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_TARGET = 3
EXIT_THRESHOLDS = 99
EXIT_INTERRUPTED = 130


class PerflabError(Exception):
    """Base of every error perflab raises on purpose. ``str(err)`` is the one-line cause."""

    exit_code: int = EXIT_CHECK_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class CheckFailed(PerflabError):
    exit_code = EXIT_CHECK_FAILED


class ThresholdsFailed(CheckFailed):
    exit_code = EXIT_THRESHOLDS


class UsageError(PerflabError):
    exit_code = EXIT_USAGE


class InvalidValue(UsageError):
    pass


class InvalidFile(UsageError):
    def __init__(
        self, message: str, *, path: str, line: int | None = None, hint: str | None = None
    ) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}", hint=hint)
        self.path = path
        self.line = line


class StoreError(PerflabError):
    exit_code = EXIT_USAGE


class StoreCorrupt(StoreError):
    pass


class StoreTooNew(StoreError):
    pass


class StoreUnwritable(StoreError):
    pass


class StoreFull(StoreError):
    """The store's disk is full. Not damage: every committed batch is intact, and the file can be
    written again once space is freed; so exit 3, as for other trouble in the environment."""

    exit_code = EXIT_TARGET


class NotFound(PerflabError):
    exit_code = EXIT_USAGE


class TargetError(PerflabError):
    exit_code = EXIT_TARGET


class NoSuchProcess(TargetError):
    def __init__(self, pid: int, *, hint: str | None = None) -> None:
        super().__init__(
            f"no process with PID {pid}",
            hint=hint or "check the PID with `perflab top` or `ps`; it may have exited",
        )
        self.pid = pid


class AccessDenied(TargetError):
    pass


class Unreachable(TargetError):
    pass


class ToolMissing(TargetError):
    def __init__(self, tool: str, *, install: str) -> None:
        super().__init__(f"`{tool}` is not installed", hint=f"install it: {install}")
        self.tool = tool
