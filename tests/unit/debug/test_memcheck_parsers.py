"""memcheck's readers on captured output (tests/fixtures/debug/, from the memcheck_*.c
programs): valgrind's XML (also cut short, and with a crash), ASan and LSan logs (also with
other output interleaved), massif's snapshots and peak tree; grouping and the failing rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from perflab.debug._memcheck_asan import parse_asan_log
from perflab.debug._memcheck_massif import parse_massif, peak_profile
from perflab.debug._memcheck_model import MemError, group_errors, report
from perflab.debug._memcheck_valgrind import parse_xml
from perflab.errors import InvalidFile
from perflab.profile import Frame

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "debug"


def test_valgrind_xml_errors_leaks_and_their_functions():
    errors, crash, complete = parse_xml((FIX / "memcheck.xml").read_bytes())
    assert complete
    assert crash is None
    doc = report(source="valgrind memcheck", command=["./bad"], errors=errors, exit_code=0,
                 crash=None, notes=[])
    kinds = {(g["kind"], g["function"]) for g in doc["groups"]}
    assert ("InvalidRead", "read_past_end") in kinds
    assert ("Leak_DefinitelyLost", "keep_forever") in kinds
    assert doc["leak_summary"]["definitely_lost"] == 350
    assert doc["failing"]
    keep = next(g for g in doc["groups"] if g["function"] == "keep_forever")
    assert (keep["bytes"], keep["blocks"]) == (300, 3)
    assert keep["stack"][1] == {"function": "keep_forever", "file": "bad.c", "line": 4,
                                "object": "/tmp/mc/bad"}


def test_a_crash_and_a_cut_file_keep_what_was_written():
    data = (FIX / "memcheck-crash.xml").read_bytes()
    errors, crash, complete = parse_xml(data)
    assert crash is not None
    assert crash["signal"] == "SIGSEGV"
    assert crash["stack"][0]["function"] == "main"
    assert any(e.kind == "InvalidRead" for e in errors)
    full, _, _ = parse_xml((FIX / "memcheck.xml").read_bytes())
    cut = (FIX / "memcheck.xml").read_bytes()
    cut = cut[: cut.index(b"<kind>Leak_DefinitelyLost")]
    partial, _, complete = parse_xml(cut)
    assert not complete
    assert [e.kind for e in partial] == ["InvalidRead"]
    assert len(full) == 3
    with pytest.raises(InvalidFile, match="no XML"):
        parse_xml(b"")


def test_asan_overflow_and_lsan_leaks():
    overflow = parse_asan_log((FIX / "asan-overflow.log").read_text())
    assert [(e.kind, e.stack[0].function) for e in overflow] == [
        ("heap-buffer-overflow", "read_past_end")]
    assert "READ of size 4" in overflow[0].what
    assert len(overflow[0].stack) == 5  # the access stack only, not "allocated by"
    leaks = parse_asan_log((FIX / "lsan-leaks.log").read_text())
    doc = report(source="asan log", command=None, errors=leaks, exit_code=None, crash=None,
                 notes=[])
    assert [(g["kind"], g["function"], g["bytes"]) for g in doc["groups"]] == [
        ("direct leak", "keep_forever", 300), ("direct leak", "make_list", 64),
        ("indirect leak", "make_list", 64)]
    assert [g["fails"] for g in doc["groups"]] == [True, True, False]
    assert doc["leak_summary"]["definitely_lost"] == 364
    assert doc["leak_summary"]["indirectly_lost"] == 64


def test_interleaved_output_and_repeats_group_into_one():
    one = (FIX / "lsan-leaks.log").read_text()
    mixed = "program says hello\n" + one + "\nanother line\n" + one
    doc = report(source="asan log", command=None, errors=parse_asan_log(mixed), exit_code=None,
                 crash=None, notes=[])
    assert doc["errors"] == 6
    assert len(doc["groups"]) == 3
    assert doc["groups"][0]["count"] == 2
    assert doc["groups"][0]["bytes"] == 600


def test_grouping_orders_failing_first():
    frames = [Frame("f", "a.c", 1)]
    errs = [MemError("UninitCondition", "x", frames), MemError("UninitCondition", "x", frames),
            MemError("InvalidWrite", "y", frames)]
    groups = group_errors(errs)
    assert [(g.kind, g.count, g.fails) for g in groups] == [
        ("InvalidWrite", 1, True), ("UninitCondition", 2, False)]


def test_massif_peak_tree_becomes_a_profile():
    parsed = parse_massif((FIX / "massif.out").read_text())
    assert parsed["peak"]["heap"] == 428
    prof = peak_profile(parsed)
    assert prof.total(0) == 428
    leaves: dict[str, int] = {}
    for sample in prof.samples:
        name = prof.frames[sample.stack[0]].function
        leaves[name] = leaves.get(name, 0) + sample.values[0]
    assert leaves["keep_forever"] == 300
    assert leaves["make_list"] == 128
    assert any(prof.frames[s.stack[-1]].function == "main" for s in prof.samples)
    with pytest.raises(InvalidFile, match="no massif snapshots"):
        parse_massif("desc: nothing\n")
