"""``perflab memcheck``: one entry for the three sources (valgrind memcheck, valgrind massif, an
ASan/LSan log), each read into ``_memcheck_model``'s report; massif's peak also as a flame graph
(perflab.profile's rendering)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from perflab.debug._memcheck_asan import parse_asan_log
from perflab.debug._memcheck_massif import peak_profile, run_massif
from perflab.debug._memcheck_model import report
from perflab.debug._memcheck_valgrind import run_memcheck
from perflab.errors import InvalidFile, NotFound, TargetError
from perflab.profile import flame_html

if TYPE_CHECKING:
    from perflab.store import Store

KIND = "debug.memcheck"
MAX_LOG = 256 * 1024 * 1024


def memcheck_command(command: list[str], *, tool: str, timeout: float | None = None,
                     stdout: IO[Any] | None = None) -> tuple[dict[str, Any], str | None]:
    """Run ``command`` under valgrind ``tool`` (memcheck or massif): the report, and for massif
    the peak snapshot's flame graph page. ``stdout``: where the program's output goes (stderr
    when perflab prints JSON)."""
    if shutil.which(command[0]) is None:
        raise TargetError(f"cannot run {command[0]!r}: no such command",
                          hint="give the program after --: perflab memcheck -- ./prog ARGS")
    if tool == "massif":
        parsed, code, notes = run_massif(command, timeout=timeout, stdout=stdout)
        peak = parsed["peak"]
        prof = peak_profile(parsed)
        massif = {"time_unit": parsed["time_unit"], "peak_bytes": peak["heap"],
                  "peak_extra_bytes": peak["extra"], "peak_snapshot": peak["index"],
                  "peak_time": peak["time"],
                  "timeline": [[s["time"], s["heap"]] for s in parsed["snapshots"]]}
        flame = flame_html(prof, title=f"massif peak: {' '.join(command)[:120]}")
        return report(source="valgrind massif", command=command, errors=[], exit_code=code,
                      crash=None, notes=notes, massif=massif), flame
    errors, crash, code, notes = run_memcheck(command, timeout=timeout, stdout=stdout)
    return report(source="valgrind memcheck", command=command, errors=errors, exit_code=code,
                  crash=crash, notes=notes), None


def memcheck_asan_log(path: str) -> dict[str, Any]:
    """The report of a sanitizer log file."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_LOG:
            raise InvalidFile("larger than 256 MiB", path=path, hint="give the log of one run")
        text = file.read_text(errors="replace")
    except FileNotFoundError as exc:
        raise NotFound(f"no such file: {path}",
                       hint="check the path: ASAN_OPTIONS=log_path=P writes P.PID") from exc
    except IsADirectoryError as exc:
        raise InvalidFile("is a directory", path=path) from exc
    errors = parse_asan_log(text)
    notes = [] if errors or "Sanitizer" in text else [
        ("no sanitizer report in this log (was the program built with -fsanitize=address, "
         "and is this its stderr?)")]
    return report(source="asan log", command=None, errors=errors, exit_code=None, crash=None,
                  notes=notes)


def store_memcheck(store: Store, run_id: int, doc: dict[str, Any], flame: str | None) -> None:
    """The verdict event, the report artifact, massif's flame graph and heap timeline."""
    failing = [g for g in doc["groups"] if g["fails"]]
    text = (f"memcheck: {len(failing)} failing group(s), "
            f"{doc['leak_summary']['definitely_lost']} B definitely lost")
    store.add_event(run_id, KIND, text, attrs={"failing": doc["failing"],
                                               "groups": len(doc["groups"])})
    store.add_artifact(run_id, KIND, json.dumps(doc).encode(), name="memcheck.json",
                       content_type="application/json")
    if flame is not None:
        store.add_artifact(run_id, "debug.massif.flame", flame.encode(), name="massif.html",
                           content_type="text/html")
