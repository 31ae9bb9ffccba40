"""AddressSanitizer / LeakSanitizer logs: each ``ERROR: AddressSanitizer: <kind>`` report with
its access stack, and each ``Direct leak``/``Indirect leak`` record with its allocation stack.
Lines of other output in between (the program's own, another process's interleaved report) are
skipped; a log cut off mid-report keeps the frames read so far."""

from __future__ import annotations

import re

from perflab.debug._memcheck_model import MemError
from perflab.profile import Frame

_ERROR = re.compile(r"==\d+==ERROR: (AddressSanitizer|LeakSanitizer|MemorySanitizer|"
                    r"ThreadSanitizer|UndefinedBehaviorSanitizer): ([\w-]+)(.*)$")
_LEAK = re.compile(r"^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\)")
_ACCESS = re.compile(r"^(READ|WRITE) of size (\d+)")
_FRAME = re.compile(r"^\s*#(\d+) 0x[0-9a-f]+ (?:in (.+?) )?(?:(/?[^\s()]+?):(\d+)(?::\d+)?|"
                    r"\((.+?)\+0x[0-9a-f]+\))\s*$")
_FRAME_BARE = re.compile(r"^\s*#(\d+) 0x[0-9a-f]+ in (\S+)")


def _frame(line: str) -> Frame | None:
    m = _FRAME.match(line)
    if m:
        return Frame(function=m.group(2) or "?", file=m.group(3) or "",
                     line=int(m.group(4) or 0), module=m.group(5) or "")
    m = _FRAME_BARE.match(line)
    if m:
        return Frame(function=m.group(2))
    return None


def parse_asan_log(text: str) -> list[MemError]:
    """The errors and leak records of a sanitizer log."""
    errors: list[MemError] = []
    current: MemError | None = None
    in_first_stack = False
    for raw in text.splitlines():
        line = raw.rstrip()
        error = _ERROR.search(line)
        if error:
            kind = error.group(2)
            current = None
            if kind != "detected":  # LeakSanitizer: "detected memory leaks" heads its records
                current = MemError(kind=kind, what=f"{error.group(1)}: {kind}{error.group(3)}",
                                   stack=[])
                errors.append(current)
                in_first_stack = True
            continue
        leak = _LEAK.match(line)
        if leak:
            current = MemError(kind=f"{leak.group(1).lower()} leak",
                               what=line.rstrip(":"), stack=[], bytes=int(leak.group(2)),
                               blocks=int(leak.group(3)))
            errors.append(current)
            in_first_stack = True
            continue
        if current is None:
            continue
        access = _ACCESS.match(line)
        if access:
            current.what += f" ({line.split(' at ')[0]})"
            continue
        frame = _frame(line)
        if frame is not None and in_first_stack:
            current.stack.append(frame)
        elif not line.strip() and current.stack:
            in_first_stack = False  # the access stack ended; "allocated by" stacks follow
        elif line.startswith("SUMMARY:"):
            current = None
    return errors
