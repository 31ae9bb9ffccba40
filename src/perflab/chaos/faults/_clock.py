"""Clock skew for a process perflab starts (``perflab run --clock-skew -2h -- CMD``), through
libfaketime: ``LD_PRELOAD`` of ``libfaketime.so.1`` with ``FAKETIME`` set. The library is loaded
by the dynamic linker when the program starts, so only a program started under it is skewed
(its children inherit the environment, and the skew); a running process cannot be.

What libfaketime cannot reach is said, not hidden: a statically linked program has no dynamic
linker to load it, and a Go program reads the clock through the vDSO from its own runtime, not
through libc, so its ``time.Now`` is not skewed even when it is linked dynamically (cgo): only
its C code's calls are.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perflab.errors import InvalidValue, ToolMissing

LIBRARY = "libfaketime.so.1"
# where Debian (every multiarch triplet), Fedora and a source build put it
_KNOWN_DIRS = ("/usr/lib/*/faketime", "/usr/lib/faketime", "/usr/lib64/faketime",
               "/usr/local/lib/faketime", "/usr/lib/*", "/usr/local/lib")
# libfaketime reads one number and one unit: "-2h30m" would silently be -2 minutes
_RELATIVE = re.compile(r"[+-]\d+(?:\.\d+)?[smhdy]?")
_ABSOLUTE = re.compile(r"@\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2})?")
_PT_INTERP = 3


@dataclass(frozen=True)
class ClockSkew:
    """A validated ``FAKETIME`` value and the library that applies it."""

    offset: str
    library: Path

    @classmethod
    def parse(cls, text: str, library: Path | None = None) -> ClockSkew:
        """``-2h``, ``+90s``, ``-1.5d`` (a relative offset: one number, one unit of s, m, h, d,
        y) or ``@2020-01-01 00:00:00`` (the clock starts there, in local time, and runs on).
        InvalidValue (exit 2) for anything else; ToolMissing (exit 3) without libfaketime."""
        value = text.strip()
        if not (_RELATIVE.fullmatch(value) or _ABSOLUTE.fullmatch(value)):
            raise InvalidValue(
                f"invalid clock skew {text[:40]!r}",
                hint="a signed offset with one unit (-2h, +90s, -1.5d) or a start time "
                     "(@2020-01-01 00:00:00)")
        return cls(value, library or find_library())

    @property
    def text(self) -> str:
        return f"clock skew {self.offset}"

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` with libfaketime preloaded (before what it already preloads) and set."""
        env = dict(base)
        preload = env.get("LD_PRELOAD", "")
        env["LD_PRELOAD"] = f"{self.library}:{preload}" if preload else str(self.library)
        env["FAKETIME"] = self.offset
        # wall time only: a monotonic clock moved back 2 h on a machine up for less than that
        # would go below zero, and timeouts and sleeps measured on it would break, not skew
        env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
        return env

    def attrs(self) -> dict[str, Any]:
        """The band's attributes, as other faults': ``fault`` and its parameters."""
        return {"fault": "clock-skew", "offset": self.offset,
                "mechanism": f"libfaketime (LD_PRELOAD {self.library})"}


def find_library() -> Path:
    """libfaketime.so.1: where dpkg says the package put it, else in the usual directories."""
    for found in (_from_dpkg(), _from_known_dirs()):
        if found is not None:
            return found
    raise ToolMissing(LIBRARY, install="apt-get install faketime (dnf install libfaketime)")


def _from_dpkg() -> Path | None:
    dpkg = shutil.which("dpkg")
    if dpkg is None:
        return None
    try:
        out = subprocess.run([dpkg, "-L", "libfaketime"], capture_output=True, text=True,  # noqa: S603
                             timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    paths = [Path(line) for line in out.splitlines() if line.endswith(f"/{LIBRARY}")]
    return next((p for p in paths if p.is_file()), None)


def _from_known_dirs() -> Path | None:
    for pattern in _KNOWN_DIRS:
        for directory in sorted(Path("/").glob(pattern.lstrip("/"))):
            candidate = directory / LIBRARY
            if candidate.is_file():
                return candidate
    return None


def skew_warnings(program: str) -> list[str]:
    """Why the skew may not reach ``program`` (a path or a name on PATH): empty when it
    should."""
    path = shutil.which(program) or program
    from perflab.profile import is_go_binary  # noqa: PLC0415  # only with --clock-skew

    if is_go_binary(path):
        return [(f"{Path(path).name} is a Go program: Go reads the clock through the vDSO, "
                "not libc, so its time.Now is not skewed (only its C code's time() is, "
                "with cgo)")]
    if is_static_elf(path):
        return [(f"{Path(path).name} is statically linked: LD_PRELOAD does not reach it and "
                "its clock is not skewed")]
    return []


def is_static_elf(path: str) -> bool:
    """An ELF executable without a program interpreter: nothing loads a preloaded library
    into it. A script or an unreadable file is not one."""
    try:
        with Path(path).open("rb") as f:
            ident = f.read(64)
            if len(ident) < 64 or ident[:4] != b"\x7fELF":
                return False
            wide, order = ident[4] == 2, "<" if ident[5] == 1 else ">"
            if wide:
                phoff, = struct.unpack_from(f"{order}Q", ident, 32)
                phentsize, phnum = struct.unpack_from(f"{order}HH", ident, 54)
            else:
                phoff, = struct.unpack_from(f"{order}I", ident, 28)
                phentsize, phnum = struct.unpack_from(f"{order}HH", ident, 42)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    types = [struct.unpack_from(f"{order}I", table, i * phentsize)[0]
             for i in range(len(table) // phentsize)] if phentsize else []
    return _PT_INTERP not in types
