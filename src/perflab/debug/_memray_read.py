"""Run as ``python -m perflab.debug._memray_read CAPTURE python|native``: print the capture's live
allocations (made since the attach, not yet freed) by allocation site, as JSON on stdout.

A child process of its own (see ``_memray``): memray's reader writes to the C stderr and may stop
at the record being written when the file is still growing.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def live_sites(capture: str, *, native: bool) -> dict[str, dict[str, Any]]:
    """Site key (``function (file:line)`` of the innermost frame) -> live bytes and objects."""
    from memray import FileReader  # noqa: PLC0415  (an optional dependency)

    reader = FileReader(capture)
    sites: dict[str, dict[str, Any]] = {}
    for record in reader.get_leaked_allocation_records(merge_threads=True):
        frames = record.hybrid_stack_trace() if native else record.stack_trace()
        if not frames:
            continue
        function, file, line = frames[0]
        key = f"{function} ({file}:{line})"
        site = sites.setdefault(key, {
            "function": function, "file": file, "line": int(line), "bytes": 0, "objects": 0,
            "stack": [f"{f} ({p}:{n})" for f, p, n in frames], "biggest": 0})
        site["bytes"] += record.size
        site["objects"] += record.n_allocations
        if record.size > site["biggest"]:  # the stack of its biggest share, as for Go's sites
            site["biggest"] = record.size
            site["stack"] = [f"{f} ({p}:{n})" for f, p, n in frames]
    for site in sites.values():
        del site["biggest"]
    return sites


def main(argv: list[str]) -> int:
    capture, kind = argv
    json.dump(live_sites(capture, native=kind == "native"), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
