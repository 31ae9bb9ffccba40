"""The goroutine dump and race log readers take any text: a dump may raise only InvalidFile (no
goroutine at all), and grouping, diffing and the deadlock search never fail on what parsed; a
race log never raises."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from perflab.debug import (
    analyze_goroutines,
    diff_dumps,
    group_goroutines,
    parse_goroutines,
    parse_race_log,
)
from perflab.errors import InvalidFile

DUMPISH = st.lists(st.sampled_from([
    "goroutine 1 [running]:", "goroutine 7 [semacquire, 3 minutes]:", "goroutine x [",
    "goroutine 9 gp=0x1 m=nil [chan receive, locked to thread]:",
    "sync.(*Mutex).lockSlow(0x926d68)", "\t/go/src/sync/mutex.go:171 +0x165",
    "sync.(*Mutex).Lock(...)", "\t/go/src/sync/mutex.go:90", "main.f()", "\t/app/main.go:26 +0x50",
    "main.f()", "\t/app/main.go:29 +0xb0", "created by main.g in goroutine 1",
    "\t/app/main.go:40", "...additional frames elided...", "", "panic: x", "rax 0x0",
    "\tno-line", "main.(*T).m(0x1, {0x2, 0x3})", "\x00\u2028"]), max_size=60).map("\n".join)
RACEISH = st.lists(st.sampled_from([
    "==================", "WARNING: DATA RACE", "Read at 0x00c by goroutine 7:",
    "Previous write at 0x00c by main goroutine:", "  main.f()", "      /a.go:3 +0x1",
    "Goroutine 7 (running) created at:", "Goroutine x (", "", "Found 1 data race(s)"]),
    max_size=60).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=400), DUMPISH))
def test_goroutine_dumps(text):
    with contextlib.suppress(InvalidFile):
        dump = parse_goroutines(text)
        group_goroutines(dump)
        diff_dumps(dump, dump)
        analyze_goroutines(dump, base=dump, blocked_minutes=1).to_json()


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=400), RACEISH))
def test_race_logs(text):
    log = parse_race_log(text)
    for group in log.groups():
        group.to_json()
