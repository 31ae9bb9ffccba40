"""The debug readers of untrusted input take any bytes: valgrind XML, sanitizer logs, massif
output, Go's MemStats text. Each may raise only its documented error (InvalidFile)."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from perflab.debug._goheap import parse_memstats
from perflab.debug._memcheck_asan import parse_asan_log
from perflab.debug._memcheck_massif import parse_massif
from perflab.debug._memcheck_valgrind import parse_xml
from perflab.errors import InvalidFile

XMLISH = st.lists(st.sampled_from([
    b"<valgrindoutput>", b"</valgrindoutput>", b"<error>", b"</error>", b"<kind>InvalidRead",
    b"</kind>", b"<stack>", b"</stack>", b"<frame>", b"</frame>", b"<fn>f</fn>", b"<line>x",
    b"</line>", b"<xwhat>", b"</xwhat>", b"<leakedbytes>12</leakedbytes>", b"<fatal_signal>",
    b"</fatal_signal>", b"&amp;", b"<!DOCTYPE x>", b"\x00", b"<"]), max_size=40).map(b"".join)
LOGISH = st.lists(st.sampled_from([
    "==1==ERROR: AddressSanitizer: heap-use-after-free on x",
    "Direct leak of 8 byte(s) in 1 object(s) allocated from:", "    #0 0x1 in f a.c:1:2",
    "    #1 0xzz in", "READ of size 4 at",
    "", "SUMMARY: x", "==2==ERROR: LeakSanitizer: detected memory leaks", "\x00\u2028"]),
    max_size=40).map("\n".join)
MASSIFISH = st.lists(st.sampled_from([
    "snapshot=0", "snapshot=x", "time=1", "mem_heap_B=10", "heap_tree=peak", "heap_tree=detailed",
    "n1: 10 0x1: f (a.c:1)", " n0: 10 0x2: main (a.c:2)", "  n0: 5 in 2 places", "time_unit: ms",
    "n9: x"]), max_size=40).map("\n".join)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=300), XMLISH))
def test_valgrind_xml(data):
    with contextlib.suppress(InvalidFile):
        parse_xml(data)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300), LOGISH))
def test_sanitizer_logs(text):
    parse_asan_log(text)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300), MASSIFISH))
def test_massif(text):
    with contextlib.suppress(InvalidFile):
        parse_massif(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_memstats(data):
    with contextlib.suppress(InvalidFile):
        parse_memstats(b"# HeapInuse = 5\n" + data if data[:1] == b"#" else data)
