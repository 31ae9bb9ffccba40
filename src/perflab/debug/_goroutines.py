"""Go goroutine dumps read into a model: ``/debug/pprof/goroutine?debug=2``, a SIGQUIT traceback
(GOTRACEBACK=all/system/crash, with its register dump) and a panic's traceback all share one
grammar (``goroutine N [state, M minutes]:``, then function/file line pairs, then ``created by``).

Speed matters (a 100,000-goroutine dump is grouped in about a second): the text is cut into
blocks, each block's stack is reduced to a key with arguments and PC offsets removed, and only
one ``Stack`` is built per distinct key. A block that does not follow the grammar (a truncated
dump, log lines interleaved with it) is kept as far as it parses and named in ``warnings``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from perflab.errors import InvalidFile

if TYPE_CHECKING:
    from perflab.debug._contracts import GoFrameDoc, GoStackDoc

_HEADER = re.compile(r"(\d+)(?: [^\[\n]*)? \[([^\]\n]*)\]:?[ \t]*\r?$")  # after "goroutine "
# a frame's arguments "(0xc000..., {...})" and a file line's PC offset " +0x1d", to build the key
_NOISE = re.compile(r"(?:\([^()\n]*\)| \+0x[0-9a-f]+(?: fp=.*)?| in goroutine \d+)\r?$",
                    re.MULTILINE)
_WAIT = re.compile(r"(\d+) minutes?")
_FILE_LINE = re.compile(r"\t(.+):(\d+)$")
ELIDED = "...additional frames elided..."


@dataclass(frozen=True, slots=True)
class GoFrame:
    """One frame: the function (no arguments), its source file and line."""

    function: str
    file: str
    line: int

    @property
    def package(self) -> str:
        """The import path: ``net/http`` of ``net/http.(*conn).serve``, ``main`` of ``main.f``."""
        slash = self.function.rfind("/")
        dot = self.function.find(".", slash + 1)
        return self.function if dot < 0 else self.function[:dot]

    @property
    def is_std(self) -> bool:
        """Go's standard library (and the runtime): a package whose first path element has no
        dot (not ``main``), whose file lies under a ``src/<package>/`` directory (GOROOT's
        layout). panicparse asks GOROOT; a dump does not say where it was, and a program's own
        module may be named without a dot (``module race``: its functions are ``race.f`` under
        ``go test``), so the file decides when there is one."""
        pkg = self.package
        first = pkg.split("/", 1)[0]
        if pkg == "main" or "." in first:
            return False
        return not self.file or f"/src/{pkg}/" in self.file

    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def to_json(self) -> GoFrameDoc:
        return {"function": self.function, "file": self.file, "line": self.line}


@dataclass(frozen=True, slots=True)
class Stack:
    """A stack shared by every goroutine whose frames are the same (arguments aside)."""

    frames: tuple[GoFrame, ...]
    created_by: GoFrame | None
    elided: bool = False

    @property
    def culprit(self) -> GoFrame | None:
        """The first frame of the program itself (not the runtime or standard library): the
        function a finding names first. The top frame when every frame is the library's."""
        for frame in self.frames:
            if not frame.is_std:
                return frame
        return self.frames[0] if self.frames else None

    @property
    def name(self) -> str:
        culprit = self.culprit
        return culprit.function if culprit else "(no frames)"

    def to_json(self) -> GoStackDoc:
        """What every view of a stack shows: its name, where, the frames and the creator."""
        culprit = self.culprit
        return {"function": self.name, "location": culprit.where() if culprit else None,
                "frames": [f.to_json() for f in self.frames],
                "created_by": self.created_by.to_json() if self.created_by else None}


@dataclass(slots=True)
class Goroutine:
    id: int
    state: str               # "chan receive", "semacquire", "sync.Mutex.Lock", "running", ...
    wait_minutes: int        # Go prints the wait only from one minute on: 0 below that
    locked_to_thread: bool
    stack: Stack
    key: str                 # what goroutines with the same stack share (see _key)
    raw: str                 # the block as printed after "goroutine " (arguments kept: lock
                             # addresses are in them)


@dataclass(slots=True)
class GoroutineDump:
    source: str
    goroutines: list[Goroutine] = field(default_factory=list)
    preamble: str = ""       # what came before the first goroutine: a panic message, SIGQUIT
    warnings: list[str] = field(default_factory=list)


def parse_goroutines(text: str, *, source: str = "<dump>") -> GoroutineDump:
    """Every goroutine of a dump. Raises ``InvalidFile`` only when no goroutine parses at all;
    otherwise what parsed is kept and each problem is one line in ``warnings``."""
    dump = GoroutineDump(source=source)
    start = _first_header(text)
    if start < 0:
        raise InvalidFile(
            "no goroutine found (expected lines like `goroutine 1 [running]:`)", path=source,
            hint="give a /debug/pprof/goroutine?debug=2 dump, a SIGQUIT traceback or a panic",
        )
    dump.preamble = text[:start].strip()
    stacks: dict[str, Stack] = {}
    problems: dict[str, str] = {}
    states: dict[str, tuple[str, int, bool]] = {}
    blocks = text[start:].split("\ngoroutine ")
    blocks[0] = blocks[0].removeprefix("goroutine ")
    last = len(blocks) - 1
    header_of = _HEADER.match
    for i, block in enumerate(blocks):
        header, _, body = block.partition("\n")
        m = header_of(header)
        if m is None:
            problems.setdefault("header:" + header[:60], "a goroutine header that does not "
                                f"parse: {'goroutine ' + header[:80]!r}")
            continue
        if i == last:
            body = _trailing_junk(body.strip("\n"))
        key = _key(body)
        stack = stacks.get(key)
        if stack is None:
            stack, problem = _stack_of(_NOISE.sub("", body.strip("\n")), truncated_ok=i == last)
            stacks[key] = stack
            if problem:
                problems[key] = f"goroutine {m.group(1)}: {problem}"
        said = m.group(2)
        parsed = states.get(said)
        if parsed is None:
            parsed = states[said] = _state(said)
        state, minutes, locked = parsed
        dump.goroutines.append(Goroutine(int(m.group(1)), state, minutes, locked, stack, key,
                                         block))
    dump.warnings.extend(problems.values())
    return dump


def _key(body: str) -> str:
    """What two goroutines with the same stack share: their file lines, PC offsets included
    (arguments are on the function lines). The fast path takes every other line; a stack with
    frames elided or with lines that are not frames keeps every line without its arguments."""
    lines = body.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    key = "\n".join(lines[1::2])
    if (len(lines) % 2 or ELIDED in body or not key.startswith("\t")
            or key.count("\n\t") != len(lines) // 2 - 1):
        return _NOISE.sub("", body.strip("\n"))
    return key


def _first_header(text: str) -> int:
    if text.startswith("goroutine "):
        return 0
    at = text.find("\ngoroutine ")
    return at + 1 if at >= 0 else -1


def _state(text: str) -> tuple[str, int, bool]:
    parts = [p.strip() for p in text.split(",")]
    minutes = 0
    locked = False
    for part in parts[1:]:
        m = _WAIT.fullmatch(part)
        if m:
            minutes = int(m.group(1))
        elif part == "locked to thread":
            locked = True
    return parts[0], minutes, locked


# lines a SIGQUIT or panic leaves after the last goroutine: registers, "exit status 2", ...
_JUNK = re.compile(r"^(?:r[a-z0-9]{1,3}|rip|rflags|cs|fs|gs|exit status|signal:|\[signal)\b")


def _trailing_junk(body: str) -> str:
    lines = body.split("\n")
    end = len(lines)
    for i, line in enumerate(lines):
        if line == "" or _JUNK.match(line):
            end = i
            break
    return "\n".join(lines[:end])


def _stack_of(key: str, *, truncated_ok: bool) -> tuple[Stack, str | None]:
    """The frames of a key; a problem when its lines do not follow the grammar."""
    frames: list[GoFrame] = []
    created_by: GoFrame | None = None
    elided = False
    problem: str | None = None
    lines = key.split("\n") if key else []
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r")
        if line == ELIDED:
            elided = True
            i += 1
            continue
        nxt = lines[i + 1].rstrip("\r") if i + 1 < len(lines) else None
        fm = _FILE_LINE.match(nxt) if nxt is not None else None
        if line.startswith("\t") or not line or fm is None:
            if nxt is None and not line.startswith("\t") and line:
                problem = ("the dump ends inside this goroutine (truncated?); "
                           "its stack is kept as far as it goes")
                if not truncated_ok:
                    problem = f"a frame without its file line: {line[:80]!r}"
            else:
                problem = problem or f"a line that is not part of a stack: {line[:80]!r}"
            i += 1
            continue
        frame = GoFrame(line.removeprefix("created by "), fm.group(1), int(fm.group(2)))
        if line.startswith("created by "):
            created_by = frame
        else:
            frames.append(frame)
        i += 2
    if not frames and problem is None:
        problem = "no frames (truncated?)"
    return Stack(tuple(frames), created_by, elided), problem
