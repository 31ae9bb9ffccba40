"""``perflab load import`` and ``coverage``'s inputs: which reader a file goes to."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from perflab.errors import InvalidFile, InvalidValue
from perflab.load._import_har import read_har
from perflab.load._import_jmx import read_jmx
from perflab.load._import_log import read_access_log

if TYPE_CHECKING:
    from perflab.load._import_model import Traffic

SourceFormat = Literal["auto", "combined", "common", "har", "jmx"]
FORMATS: tuple[SourceFormat, ...] = ("auto", "combined", "common", "har", "jmx")


def read_traffic(path: str, fmt: str = "auto") -> Traffic:
    """A recorded traffic file: an access log (combined, common), a HAR file or a JMeter plan.
    ``auto``: by the file's name (``.har``, ``.jmx``), else by its first bytes (``{``: HAR,
    ``<``: a plan), else an access log whose format its first line decides."""
    if fmt not in FORMATS:
        raise InvalidValue(f"unknown format {fmt!r}", hint="--format " + ", ".join(FORMATS))
    p = Path(path)
    if not p.is_file():
        raise InvalidFile("no such file", path=path,
                          hint="give an access log, a .har file or a .jmx test plan")
    kind = fmt if fmt != "auto" else _sniff(p)
    if kind == "har":
        return read_har(p)
    if kind == "jmx":
        return read_jmx(p)
    return read_access_log(p, "auto" if kind == "log" else kind)  # type: ignore[arg-type]


def _sniff(p: Path) -> str:
    suffix = p.suffix.lower()
    if suffix == ".har":
        return "har"
    if suffix == ".jmx":
        return "jmx"
    try:
        with p.open("rb") as fh:
            head = fh.read(512).lstrip()
    except OSError as exc:
        raise InvalidFile(f"cannot read: {exc.strerror}", path=str(p)) from None
    if head.startswith(b"{"):
        return "har"
    if head.startswith(b"<"):
        return "jmx"
    return "log"
