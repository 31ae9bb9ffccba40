"""One stack-frame line as perf and bpftrace print them: ``ADDR SYMBOL[+OFF] (MODULE)``."""

from __future__ import annotations

import re

from perflab.profile._model import Frame

_LINE = re.compile(r"^\s*(?P<addr>[0-9a-fA-F]+)\s+(?P<sym>.*?)(?:\s+\((?P<mod>[^()]*)\))?\s*$")
_OFFSET = re.compile(r"\+(?:0x[0-9a-fA-F]+|\d+)$")


def parse_frame(line: str) -> Frame | None:
    """The frame, or None for a line that is not one. Unknown symbols keep module+address."""
    m = _LINE.match(line)
    if m is None:
        return None
    addr = int(m["addr"], 16)
    sym = m["sym"]
    mod = m["mod"] or ""
    if mod in ("[unknown]", "unknown"):
        mod = ""
    if sym in ("[unknown]", "") or sym.startswith("0x"):
        return Frame("", module=mod, address=addr)
    return Frame(_OFFSET.sub("", sym), module=mod)
