"""Findings in goroutine dumps: leaks between two dumps, long waits, partial deadlocks; and the
`perflab goroutines` command's output, exit codes and stored run."""

import json
import typing

import jsonschema
import pytest
from tests.unit.debug._gotexts import MAIN, leaked
from tests.unit.debug._schema import validate

from perflab.cli import main
from perflab.debug import analyze_goroutines, diff_dumps, find_deadlocks, parse_goroutines
from perflab.debug._contracts import DeadlockDoc
from perflab.store import Store


def _mutex_waiter(gid: int, fn: str, line: int, addr: str, minutes: int = 0) -> str:
    wait = f", {minutes} minutes" if minutes else ""
    return (f"goroutine {gid} [semacquire{wait}]:\n"
            f"sync.runtime_SemacquireMutex(0xc0001989a0?, 0x35?, 0x1?)\n"
            f"\t/go/src/runtime/sema.go:77 +0x25\n"
            f"sync.(*Mutex).lockSlow({addr})\n\t/go/src/sync/mutex.go:171 +0x165\n"
            f"sync.(*Mutex).Lock(...)\n\t/go/src/sync/mutex.go:90\n"
            f"{fn}()\n\t/src/bank/main.go:{line} +0x50\n"
            f"main.handler(0xc0004)\n\t/src/bank/main.go:60 +0x28\n")


A, B = "0x926d68", "0x926d70"


def _deadlocked(*, extra: bool = True) -> str:
    blocks = [MAIN,
              _mutex_waiter(9, "main.transferAB", 29, B, 2),   # holds A (taken at line 26)
              _mutex_waiter(8, "main.transferBA", 42, A, 2)]   # holds B (taken at line 39)
    if extra:  # goroutines queued at each function's first lock show which mutex it takes first
        blocks += [_mutex_waiter(20, "main.transferAB", 26, A),
                   _mutex_waiter(21, "main.transferBA", 39, B)]
    return "\n".join(blocks)


def test_two_goroutines_holding_what_the_other_wants_are_a_likely_deadlock():
    (finding,) = find_deadlocks(parse_goroutines(_deadlocked()))
    assert finding.confidence == "likely"
    assert sorted(finding.functions) == ["main.transferAB", "main.transferBA"]
    by_fn = {m.function: m for m in finding.members}
    ab = by_fn["main.transferAB"]
    assert (ab.holds, ab.held_since.line, ab.wants, ab.waits_at.line) == (A, 26, B, 29)
    assert finding.stuck_behind == 2
    assert any("at least 2 min" in e for e in finding.evidence)


def test_one_lock_order_is_no_deadlock():
    """Both functions take A then B: goroutines queue on B, but nobody holds what another
    holder wants."""
    text = "\n".join([_mutex_waiter(9, "main.transferAB", 29, B),
                      _mutex_waiter(8, "main.transferBA", 42, B),
                      _mutex_waiter(20, "main.transferAB", 26, A),
                      _mutex_waiter(21, "main.transferBA", 39, A)])
    assert find_deadlocks(parse_goroutines(text)) == []


def test_without_evidence_of_the_first_lock_there_is_no_finding():
    """Two goroutines each waiting on one mutex: nothing shows either holds anything."""
    assert find_deadlocks(parse_goroutines(_deadlocked(extra=False))) == []


def test_a_group_that_grew_with_parked_new_goroutines_is_a_leak():
    before = parse_goroutines(leaked(2) + "\n" + MAIN, source="before")
    after = parse_goroutines(leaked(7) + "\n" + MAIN, source="after")
    (change,) = diff_dumps(before, after)
    assert (change.name, change.before, change.after, change.leak) == (
        "main.leakyWorker", 2, 7, True)
    assert change.new_ids == [9, 10, 11, 12, 13]
    assert diff_dumps(after, after) == []


def test_fewer_goroutines_than_min_growth_is_no_leak():
    before = parse_goroutines(leaked(2))
    after = parse_goroutines(leaked(3))
    (change,) = diff_dumps(before, after, min_growth=5)
    assert not change.leak


def test_blocked_over_flags_long_mutex_and_channel_waits_only():
    dump = parse_goroutines(_deadlocked() + "\n" + leaked(1, first_id=50, minutes=5))
    report = analyze_goroutines(dump, blocked_minutes=2)
    assert [(b.goroutine.id, b.on) for b in report.blocked or []] == [
        (50, "channel"), (8, "sync.Mutex"), (9, "sync.Mutex")]
    assert analyze_goroutines(dump, blocked_minutes=10).blocked == []


def test_cli_reports_a_deadlock_exits_1_and_stores_it(tmp_path, capsys, store_path):
    dump = tmp_path / "dump.txt"
    dump.write_text(_deadlocked())
    code = main(["goroutines", str(dump), "--store", str(store_path), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    validate(doc, "goroutines")
    assert doc["found"] is True
    assert doc["deadlocks"][0]["confidence"] == "likely"
    with Store.open(store_path) as store:
        run = store.run(doc["run"])
        assert run.kind == "goroutines"
        assert [e.kind for e in store.events(run.id)] == ["debug.deadlock"]
        (art,) = store.artifacts(run.id, "goroutines")
        assert json.loads(store.artifact_data(art.id))["goroutines"] == 5


def test_cli_diff_text_names_the_leaking_function(tmp_path, capsys, store_path):
    (tmp_path / "a.txt").write_text(leaked(2) + "\n" + MAIN)
    (tmp_path / "b.txt").write_text(leaked(9) + "\n" + MAIN)
    code = main(["goroutines", str(tmp_path / "b.txt"), "--diff", str(tmp_path / "a.txt"),
                 "--store", str(store_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "LEAK: main.leakyWorker: 2 -> 9 goroutines (+7), chan receive" in out
    assert main(["goroutines", str(tmp_path / "a.txt"), "--diff", str(tmp_path / "a.txt"),
                 "--store", str(store_path)]) == 0


def test_cli_missing_file_is_a_usage_error(tmp_path, capsys, store_path):
    code = main(["goroutines", str(tmp_path / "nope.txt"), "--store", str(store_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("perflab: error: no such file")


def test_a_service_without_pprof_is_a_clear_error(capsys, store_path):
    import threading  # noqa: PLC0415
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: PLC0415

    class NoPprof(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NoPprof)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        code = main(["goroutines", f"http://127.0.0.1:{server.server_address[1]}",
                     "--store", str(store_path)])
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert code == 3
    assert err.startswith("perflab: error: ")
    assert "/debug/pprof/goroutine" in err
    assert "Traceback" not in err


def test_a_go_deadlock_is_never_certain_in_the_schema_or_the_type(tmp_path, capsys, store_path):
    dump = tmp_path / "dump.txt"
    dump.write_text(_deadlocked())
    main(["goroutines", str(dump), "--store", str(store_path), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "perflab.goroutines/2"
    doc["deadlocks"][0]["confidence"] = "certain"  # only an owner-tracking agent proves that
    with pytest.raises(jsonschema.ValidationError, match="certain"):
        validate(doc, "goroutines")
    hints = typing.get_type_hints(DeadlockDoc)
    assert typing.get_args(hints["confidence"]) == ("likely", "possible")
