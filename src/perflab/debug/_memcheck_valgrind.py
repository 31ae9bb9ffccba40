"""valgrind memcheck: run a program under it with ``--xml=yes`` and read the XML (errors, leak
records, a fatal signal). A program that crashes, or a valgrind cut off mid-write, leaves a
truncated file: what was written before the cut is kept."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET  # valgrind's own output, from our temp dir
from pathlib import Path
from typing import IO, Any, cast

from perflab.debug._memcheck_model import MemError, frame_json
from perflab.errors import InvalidFile, ToolMissing
from perflab.profile import Frame

INSTALL = "apt-get install valgrind"


def valgrind() -> str:
    """The valgrind executable, or ToolMissing with how to install it."""
    found = shutil.which("valgrind")
    if found is None:
        raise ToolMissing("valgrind", install=INSTALL)
    return found


def _frames(stack: ET.Element | None) -> list[Frame]:
    if stack is None:
        return []
    out = []
    for frame in stack.findall("frame"):
        line = frame.findtext("line") or "0"
        out.append(Frame(function=frame.findtext("fn") or frame.findtext("ip") or "?",
                              file=frame.findtext("file") or "",
                              line=int(line) if line.isdigit() else 0,
                         module=frame.findtext("obj") or ""))
    return out


def parse_xml(data: bytes, *,
              path: str = "<valgrind xml>") -> tuple[list[MemError], dict[str, Any] | None, bool]:
    """(errors, fatal signal, complete) from memcheck's XML. A truncated file gives what was
    complete before the cut, with ``complete`` False."""
    if not data.strip():
        raise InvalidFile("valgrind wrote no XML", path=path,
                          hint="did valgrind start? run it by hand to see its message")
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("end",))
    complete = True
    try:
        parser.feed(data)
        parser.close()
    except ET.ParseError:
        complete = False  # the elements closed before the cut are still there
    errors: list[MemError] = []
    crash: dict[str, Any] | None = None
    elements = _elements(parser)
    complete = complete and bool(elements)
    for elem in elements:
        if elem.tag == "error":
            errors.append(_error(elem))
        elif elem.tag == "fatal_signal":
            crash = {"signal": elem.findtext("signame") or f"signal {elem.findtext('signo')}",
                     "what": elem.findtext("event") or "",
                     "stack": [frame_json(f) for f in _frames(elem.find("stack"))]}
    return errors, crash, complete


def _elements(parser: ET.XMLPullParser[ET.Element]) -> list[ET.Element]:
    """The elements closed before the first syntax error (the parser queues the error among
    its events)."""
    out: list[ET.Element] = []
    events = parser.read_events()
    while True:
        try:
            event = next(events)
        except (StopIteration, ET.ParseError):
            return out
        elem = cast("tuple[str, object]", event)[1]  # "end" events: (event, element)
        if isinstance(elem, ET.Element):
            out.append(elem)


def _error(elem: ET.Element) -> MemError:
    xwhat = elem.find("xwhat")
    what = elem.findtext("what") or ""
    size = blocks = 0
    if xwhat is not None:
        what = what or xwhat.findtext("text") or ""
        size = int(xwhat.findtext("leakedbytes") or "0")
        blocks = int(xwhat.findtext("leakedblocks") or "0")
    return MemError(kind=elem.findtext("kind") or "?", what=what,
                    stack=_frames(elem.find("stack")), bytes=size, blocks=blocks,
                    aux=[a.text or "" for a in elem.findall("auxwhat")])


MemcheckRun = tuple[list[MemError], dict[str, Any] | None, int, list[str]]


def run_memcheck(command: list[str], *, extra: list[str] | None = None,
                 timeout: float | None = None, stdout: IO[Any] | None = None) -> MemcheckRun:
    """Run ``command`` under memcheck. Returns (errors, crash, exit code, notes)."""
    tool = valgrind()
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="perflab-memcheck-") as tmp:
        xml_path = Path(tmp) / "memcheck.xml"
        argv = [tool, "--tool=memcheck", "--xml=yes", f"--xml-file={xml_path}",
                "--leak-check=full", "--show-leak-kinds=definite,indirect,possible",
                "--child-silent-after-fork=yes", *(extra or []), *command]
        proc = subprocess.run(argv, check=False, timeout=timeout,  # noqa: S603  # the user's
                              stdout=stdout)
        data = xml_path.read_bytes() if xml_path.exists() else b""
    errors, crash, complete = parse_xml(data, path=str(xml_path))
    if not complete:
        notes.append("valgrind's XML was cut short (the program or valgrind died): the errors "
                     "before the cut are shown")
    if crash is not None:
        notes.append(f"the program crashed under valgrind ({crash['signal']}): the errors "
                     "and leaks found before it exited are shown")
    return errors, crash, proc.returncode, notes
