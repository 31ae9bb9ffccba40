"""Goroutine dumps read into the model: every form Go prints, and what breaks a dump."""

import pytest
from tests.unit.debug._gotexts import LEAK, MAIN, leaked

from perflab.debug import GoFrame, group_goroutines, parse_goroutines
from perflab.errors import InvalidFile


def _known(frame: GoFrame | None) -> GoFrame:
    assert frame is not None
    return frame


def test_goroutines_with_different_arguments_share_one_group():
    dump = parse_goroutines(leaked(3) + "\n" + MAIN)
    groups = group_goroutines(dump)
    assert [(g.count, g.state, g.name) for g in groups] == [
        (3, "chan receive", "main.leakyWorker"), (1, "running", "main.main")]
    leak = groups[0]
    assert leak.max_wait == 12
    assert _known(leak.stack.created_by).function == "main.handleWork"
    assert _known(leak.stack.culprit).where() == "/src/app/main.go:17"
    assert dump.warnings == []


def test_a_panic_keeps_its_message_and_goroutines():
    text = ("panic: boom\n\ngoroutine 1 [running]:\nmain.explode(...)\n\t/src/app/main.go:9\n"
            "main.main()\n\t/src/app/main.go:30 +0x1d\nexit status 2\n")
    dump = parse_goroutines(text)
    assert dump.preamble == "panic: boom"
    (g,) = dump.goroutines
    assert [f.function for f in g.stack.frames] == ["main.explode", "main.main"]
    assert dump.warnings == []


def test_a_sigquit_traceback_with_registers_and_newer_headers():
    text = ("SIGQUIT: quit\nPC=0x46a8e1 m=0 sigcode=0\n\n"
            "goroutine 5 gp=0xc000007180 m=nil [sync.Mutex.Lock, 3 minutes, locked to thread]:\n"
            "sync.(*Mutex).lockSlow(0xc0000a0008)\n\t/usr/lib/go/src/sync/mutex.go:171 +0x165\n"
            "main.pay(...)\n\t/src/app/main.go:40\n"
            "created by main.start in goroutine 1\n\t/src/app/main.go:50 +0x25\n\n"
            "rax    0xca\nrbx    0x0\nrip    0x46a8e1\n")
    dump = parse_goroutines(text)
    (g,) = dump.goroutines
    assert (g.id, g.state, g.wait_minutes, g.locked_to_thread) == (
        5, "sync.Mutex.Lock", 3, True)
    assert _known(g.stack.culprit).function == "main.pay"
    assert _known(g.stack.created_by).function == "main.start"
    assert dump.preamble.startswith("SIGQUIT: quit")
    assert dump.warnings == []


def test_a_truncated_dump_keeps_what_parsed_and_says_so():
    text = leaked(2) + "\ngoroutine 99 [select]:\nmain.loop(0x1)\n"
    dump = parse_goroutines(text)
    assert len(dump.goroutines) == 3
    assert any("truncated" in w for w in dump.warnings)
    assert group_goroutines(dump)[0].count == 2


def test_interleaved_log_lines_are_named_and_the_stacks_kept():
    text = LEAK.replace("runtime.chanrecv(", "2026/12/03 10:00:01 GET /work\nruntime.chanrecv(")
    dump = parse_goroutines(text)
    assert len(dump.goroutines) == 1
    assert any("2026/12/03 10:00:01 GET /work" in w for w in dump.warnings)
    assert _known(dump.goroutines[0].stack.culprit).function == "main.leakyWorker"


def test_elided_frames_and_method_names_with_parentheses():
    text = ("goroutine 3 [select]:\nnet/http.(*persistConn).writeLoop(0xc0001)\n"
            "\t/go/src/net/http/transport.go:2410 +0xf2\n...additional frames elided...\n"
            "created by net/http.(*Transport).dialConn\n\t/go/src/net/http/transport.go:1777\n")
    (g,) = parse_goroutines(text).goroutines
    assert g.stack.elided
    assert g.stack.frames[0].function == "net/http.(*persistConn).writeLoop"
    assert g.stack.frames[0].package == "net/http"
    assert _known(g.stack.created_by).function == "net/http.(*Transport).dialConn"


def test_text_without_goroutines_is_refused_with_a_hint():
    with pytest.raises(InvalidFile) as err:
        parse_goroutines("hello\nworld\n", source="x.txt")
    assert "x.txt" in str(err.value)
    assert err.value.hint


def test_text_output_findings_first_then_groups():
    """The terminal rendering, exactly: the leak and the long waits, then the groups."""
    from perflab.debug import analyze_goroutines, render_goroutines  # noqa: PLC0415

    before = parse_goroutines(leaked(1) + "\n" + MAIN, source="before.txt")
    now = parse_goroutines(leaked(3) + "\n" + MAIN, source="now.txt")
    text = render_goroutines(analyze_goroutines(now, base=before, blocked_minutes=10))
    assert text == (
        "4 goroutines in 2 groups (3 chan receive, 1 running)\n"
        "LEAK: main.leakyWorker: 1 -> 3 goroutines (+2), chan receive\n"
        "  created by main.handleWork\n"
        "BLOCKED over 10 min: 3\n"
        "  goroutine 7 [chan receive, 12 min] on channel in main.leakyWorker\n"
        "  goroutine 8 [chan receive, 12 min] on channel in main.leakyWorker\n"
        "  goroutine 9 [chan receive, 12 min] on channel in main.leakyWorker\n"
        "\n"
        "  count  state                       wait  function (location)  created by\n"
        "      3  chan receive                 12m  main.leakyWorker (/src/app/main.go:17)"
        "  main.handleWork\n"
        "      1  running                           main.main (/src/app/main.go:30)  -\n")


def test_a_module_named_without_a_dot_is_the_program_not_the_standard_library():
    own = GoFrame("race.recordHit", "/home/u/race/main.go", 22)
    std = GoFrame("sync.(*Mutex).Lock", "/usr/lib/go-1.19/src/sync/mutex.go", 90)
    vendored = GoFrame("vendor/golang.org/x/net/http2.(*Framer).ReadFrame",
                       "/usr/lib/go/src/vendor/golang.org/x/net/http2/frame.go", 1)
    assert (own.is_std, std.is_std, vendored.is_std) == (False, True, True)
    assert GoFrame("github.com/a/b.F", "/go/pkg/mod/github.com/a/b/f.go", 1).is_std is False

