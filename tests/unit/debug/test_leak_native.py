"""Native allocation sampling without running bpftrace: the stacks it prints become sites (the
allocator's frames skipped, scaled by the sampling rate), the latest print is read once, and what
stops it (no libc, no bpftrace, no permission) is a note, not a crash."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from perflab.debug import _leak, _leak_native
from perflab.debug._leak import LeakOptions, LeakTarget, open_sources
from perflab.debug._leak_native import NativeSource, parse_frame, program, site_samples
from perflab.errors import AccessDenied, InvalidValue, ToolMissing

LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
LEAK = ("\n\t55be8e5d919b remember_request+18 (/srv/cleak)\n\t55be8e5d9279 main+39 (/srv/cleak)"
        f"\n\t7f0472abc24a __libc_start_call_main+122 ({LIBC})\n")
FREED = ("\n\t55be8e5d921e handle_request+27 (/srv/cleak)\n\t55be8e5d927e main+44 (/srv/cleak)"
         "\n")
# strdup mallocs inside libc, C++'s operator new inside libstdc++: the site is their caller
STRDUP = (f"\n\t7f0472b0e00a strdup+26 ({LIBC})\n\t55be8e5d9300 parse_name+12 (/srv/cleak)\n"
          "\t55be8e5d9279 main+39 (/srv/cleak)\n")
NEW = ("\n\t7f04 operator new(unsigned long)+28 (/usr/lib/x86_64-linux-gnu/libstdc++.so.6)"
       "\n\t55be8e5d9400 Cache::put(int)+40 (/srv/cleak)\n")


def test_live_bytes_by_stack_become_sites_scaled_by_the_sampling_rate():
    sites = site_samples({LEAK: 4096 * 3, FREED: 0}, {LEAK: 3, FREED: 0}, every=4)
    assert list(sites) == ["remember_request (/srv/cleak)"]
    site = sites["remember_request (/srv/cleak)"]
    assert (site.function, site.file, site.bytes, site.objects) == (
        "remember_request", "/srv/cleak", 4096 * 3 * 4, 12)
    assert site.stack[:2] == ("remember_request (/srv/cleak)", "main (/srv/cleak)")


def test_the_allocators_frames_are_skipped_and_stacks_of_one_site_add_up():
    other = LEAK.replace("main+39", "worker+7")
    sites = site_samples({STRDUP: 100, NEW: 64, LEAK: 10, other: 30},
                         {STRDUP: 1, NEW: 1, LEAK: 1, other: 2}, every=1)
    assert sites["parse_name (/srv/cleak)"].bytes == 100
    assert sites["Cache::put(int) (/srv/cleak)"].bytes == 64
    both = sites["remember_request (/srv/cleak)"]
    assert (both.bytes, both.objects) == (40, 3)
    assert both.stack[1] == "worker (/srv/cleak)"  # the stack of the bigger part


def test_a_site_is_named_by_its_source_line_when_the_binary_has_one():
    asked = []

    def locate(address: int, module: str) -> tuple[str, int] | None:
        asked.append((address, module))
        return ("/src/cleak.c", 18) if module == "/srv/cleak" else None

    sites = site_samples({LEAK: 10, STRDUP: 5}, {}, every=1, locate=locate)
    assert sites["remember_request (/src/cleak.c:18)"].line == 18
    assert sites["remember_request (/src/cleak.c:18)"].file == "/src/cleak.c"
    assert (0x55BE8E5D919B, "/srv/cleak") in asked
    assert sites["parse_name (/src/cleak.c:18)"].objects == 0


def test_source_lines_without_addr2line_or_the_module_name_none(tmp_path):
    lines = _leak_native.SourceLines(os.getpid(), addr2line=str(tmp_path / "missing"))
    assert lines(0x1000, str(tmp_path / "gone.so")) is None  # the module cannot be read
    fixed = tmp_path / "fixed"
    fixed.write_bytes(b"\x7fELF" + bytes(12) + b"\x02\x00")  # ET_EXEC: the address as is
    assert lines._offset(0x401000, str(fixed)) == 0x401000
    assert lines(0x401000, str(fixed)) is None  # addr2line could not run
    assert lines(0x401000, str(fixed)) is None  # asked once, then cached
    shared = tmp_path / "lib.so"
    shared.write_bytes(b"\x7fELF" + bytes(12) + b"\x03\x00")  # ET_DYN, not mapped here
    assert lines._offset(0x7F0000001000, str(shared)) is None
    here = next(row.split(None, 5) for row in Path(f"/proc/{os.getpid()}/maps").read_text()
                .splitlines() if "libc.so" in row and "r-xp" in row)
    start = int(here[0].split("-")[0], 16)
    assert lines._offset(start + 0x10, here[5]) == int(here[2], 16) + 0x10


@pytest.mark.parametrize(("answer", "where"), [
    ("/src/cleak.c:18", ("/src/cleak.c", 18)),
    ("/src/cleak.c:18 (discriminator 3)", ("/src/cleak.c", 18)),
    ("??:0", None),              # no debug information
    ("/src/cleak.c:?", None),
])
def test_addr2line_answers_become_a_file_and_line(tmp_path, answer, where):
    fake = tmp_path / "addr2line"
    fake.write_text(f"#!/bin/sh\necho '{answer}'\n")
    fake.chmod(0o755)
    binary = tmp_path / "fixed"
    binary.write_bytes(b"\x7fELF" + bytes(12) + b"\x02\x00")
    assert _leak_native.SourceLines(1, addr2line=str(fake))(0x401000, str(binary)) == where


def test_frames_without_a_symbol_or_a_module_are_kept():
    assert parse_frame("7f0472abc24a [unknown] (/srv/x)") == ("[unknown]", "/srv/x")
    assert parse_frame("leak_here+18") == ("leak_here", "")
    assert parse_frame("55be8e5d919b 0x55be8e5d919b") == ("0x55be8e5d919b", "")
    assert site_samples({"": 10}, {}, every=1) == {}


def test_the_program_probes_the_allocator_of_that_process_only():
    text = program(42, LIBC, every=8, print_s=2, duration_s=30)
    for fn in ("malloc", "calloc", "realloc", "free"):
        assert f"uprobe:{LIBC}:{fn} /pid == 42" in text
    assert f"uretprobe:{LIBC}:malloc,uretprobe:{LIBC}:calloc /pid == 42" in text
    assert "nsecs % 8 == 0" in text
    assert "interval:s:2 { print(@bytes); print(@objs); }" in text
    assert "interval:s:30 { exit(); }" in text
    assert "clear(@sz); clear(@stk)" in text  # the per-address maps are not printed at exit


def _print(name: str, data: dict[str, int]) -> str:
    return json.dumps({"type": "map", "data": {name: data}}) + "\n"


def test_the_latest_print_is_read_once(monkeypatch):
    started = threading.Event()

    def fake_run(text, *, what, duration_s, on_ready, on_line, stop):
        on_ready()
        on_line('{"type": "attached_probes", "data": {"probes": 9}}\n')
        on_line(_print("@bytes", {LEAK: 100}))
        on_line(_print("@objs", {LEAK: 1}))
        started.set()
        stop.wait(10)

    monkeypatch.setattr(_leak_native, "libc_path", lambda pid: LIBC)
    monkeypatch.setattr(_leak_native, "run_bpftrace", fake_run)
    source = NativeSource(os.getpid(), duration_s=5, interval_s=1, every=2)
    assert started.wait(10)
    assert source.attached.is_set()
    assert source.sample() == {}
    sites = source.sites()
    assert sites is not None
    assert sites["remember_request (/srv/cleak)"].bytes == 200
    assert source.sites() is None  # nothing new since
    source._line(_print("@bytes", {LEAK: 150}))
    source._line('{"type": "map", "data": {broken\n')
    source._line(_print("@objs", {LEAK: 2}))
    again = source.sites()
    assert again is not None
    assert again["remember_request (/srv/cleak)"].bytes == 300
    assert source.failure is None
    source._line(_print("@objs", {LEAK: 40_000, FREED: 30_000}))
    source.close()
    assert source.failure == _leak_native.FULL_NOTE


@pytest.mark.parametrize("error", [
    ToolMissing("bpftrace", install="apt-get install bpftrace"),
    AccessDenied("native allocation sampling needs root", hint="run perflab with sudo"),
])
def test_no_bpftrace_or_no_permission_is_a_note(monkeypatch, error):
    def failing(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr(_leak_native, "libc_path", lambda pid: LIBC)
    monkeypatch.setattr(_leak_native, "run_bpftrace", failing)
    source = NativeSource(os.getpid(), duration_s=1, interval_s=1)
    source.close()
    assert source.sites() is None
    assert source.failure is not None
    assert source.failure.startswith("no native allocation sites: ")
    assert str(error) in source.failure
    assert (error.hint or "") in source.failure


def test_a_process_without_libc_is_a_note_that_names_go_and_musl(monkeypatch):
    def no_libc(pid: int, lib: str) -> str:
        raise InvalidValue(f"PID {pid} has no library {lib!r} mapped")

    monkeypatch.setattr(_leak_native, "resolve_library", no_libc)
    source = NativeSource(os.getpid(), duration_s=1, interval_s=1)
    source.close()
    assert source.failure is not None
    assert "no library 'libc' mapped" in source.failure
    assert "Go" in source.failure


def test_the_libc_path_goes_through_proc_root_only_when_the_process_sees_another_file(
        monkeypatch):
    here = _leak_native.libc_path(os.getpid())
    assert not here.startswith("/proc/")
    assert "libc" in here
    # a container's libc, at a path that is not this mount namespace's
    monkeypatch.setattr(_leak_native, "resolve_library", lambda pid, lib: "/opt/c/libc.so.6")
    assert _leak_native.libc_path(77) == "/proc/77/root/opt/c/libc.so.6"


def test_a_native_process_without_an_agent_gets_the_uprobe_reader(monkeypatch):
    made = []

    class FakeNative:
        name = "native"

        def __init__(self, pid: int, *, duration_s: float, interval_s: float) -> None:
            made.append((pid, duration_s, interval_s))

    monkeypatch.setattr(_leak, "NativeSource", FakeNative)
    monkeypatch.setattr(_leak, "has_agent", lambda pid, directory: False)
    monkeypatch.setattr(_leak, "is_python_process", lambda pid: False)
    sources, notes = open_sources(LeakTarget(pid=4242), LeakOptions(duration_s=30,
                                                                     interval_s=2))
    assert [type(s).__name__ for s in sources[1:]] == ["FakeNative"]
    assert made == [(4242, 30, 2)]
    assert notes == []
