"""What a profiling target is: a running PID or a command to start, and what runs in it
(Python, Go, anything else), which decides the backend ``auto`` picks."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from perflab.errors import AccessDenied, InvalidValue, NoSuchProcess

_PYTHON_EXE = re.compile(r"^python[\d.]*(?:-dbg)?$|^pypy[\d.]*$")
_GO_BUILDINFO = b"\xff Go buildinf:"


@dataclass(frozen=True, slots=True)
class Target:
    pid: int | None
    command: tuple[str, ...]
    exe: str
    language: str  # "python", "go" or "native"

    @property
    def label(self) -> str:
        return f"PID {self.pid}" if self.pid is not None else " ".join(self.command)


def is_go_binary(path: str) -> bool:
    """Go binaries carry a build-info blob (``\\xff Go buildinf:``) near the start of data."""
    try:
        with Path(path).open("rb") as f:
            head = f.read(4)
            if head != b"\x7fELF":
                return False
            chunk = f.read(64 << 20)
    except OSError:
        return False
    return _GO_BUILDINFO in chunk


def _language(exe: str, argv: list[str], maps_text: str = "") -> str:
    base = Path(exe).name
    if _PYTHON_EXE.match(base) or "libpython" in maps_text:
        return "python"
    if argv and (argv[0].endswith(".py") or _PYTHON_EXE.match(Path(argv[0]).name)):
        return "python"
    if exe and is_go_binary(exe):
        return "go"
    return "native"


def target_of_pid(pid: int, proc_root: str = "/proc") -> Target:
    base = Path(proc_root) / str(pid)
    if not base.is_dir():
        raise NoSuchProcess(pid)
    try:
        exe = str((base / "exe").readlink())
    except PermissionError as exc:
        raise AccessDenied(f"cannot inspect PID {pid}: permission denied on /proc/{pid}/exe",
                           hint="profile your own processes, or run as root (needs "
                                "CAP_SYS_PTRACE and CAP_PERFMON)") from exc
    except FileNotFoundError:
        exe = ""  # a kernel thread or a zombie
    except OSError as exc:
        raise NoSuchProcess(pid) from exc
    try:
        argv = (base / "cmdline").read_bytes().split(b"\0")
        args = [a.decode("utf-8", "replace") for a in argv if a]
        maps_text = (base / "maps").read_text(errors="replace") if exe else ""
    except FileNotFoundError as exc:
        raise NoSuchProcess(pid) from exc
    except PermissionError:
        args, maps_text = [], ""
    if not exe:
        raise InvalidValue(f"PID {pid} is a kernel thread or a zombie: no user code to profile",
                           hint="profile a user-space process (see `perflab top`)")
    exe = exe.removesuffix(" (deleted)")
    return Target(pid, tuple(args), exe, _language(exe, args, maps_text))


def target_of_command(command: list[str]) -> Target:
    if not command:
        raise InvalidValue("no command given after --", hint="perflab profile -- CMD ARGS...")
    exe = shutil.which(command[0]) or ""
    if not exe:
        raise InvalidValue(f"command not found: {command[0]}", hint="check PATH or give a path")
    return Target(None, tuple(command), os.path.realpath(exe),
                  _language(os.path.realpath(exe), command))
