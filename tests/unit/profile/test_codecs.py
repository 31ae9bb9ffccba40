"""The profile codecs: pprof round trips, folded/py-spy, speedscope, perf script, bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from perflab.cli import main
from perflab.errors import InvalidFile
from perflab.profile import (
    Frame,
    Profile,
    SampleType,
    parse_profile,
    read_profile,
    sniff_format,
    write_profile,
)
from perflab.profile._pprof import _profile_class
from perflab.profile._text_formats import write_folded, write_speedscope

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "profile"


def sample_profile() -> Profile:
    """Two sample types, an inlined frame, a recursive stack, labels and a stripped frame."""
    p = Profile(sample_types=[SampleType("samples", "count"), SampleType("cpu", "nanoseconds")],
                period=10_000_000, period_type=SampleType("cpu", "nanoseconds"),
                time_ns=1_700_000_000_000_000_000, duration_ns=2_000_000_000,
                main_module="/usr/bin/app", comments=["made by a test"])
    main_f = Frame("main.main", "main.go", 10, "/usr/bin/app")
    work = Frame("main.work", "main.go", 20, "/usr/bin/app")
    inl = Frame("main.small", "main.go", 30, "/usr/bin/app", inlined=True)
    rec = Frame("main.rec", "main.go", 40, "/usr/bin/app")
    stripped = Frame("", module="/usr/lib/libfoo.so", address=0x1A2B)
    p.add([inl, work, main_f], [3, 30_000_000], {"thread": "worker"})
    p.add([work, main_f], [5, 50_000_000])
    p.add([rec, rec, rec, main_f], [2, 20_000_000])
    p.add([stripped, main_f], [1, 10_000_000])
    p.samples[0].num_labels["bytes"] = (512, "bytes")
    return p


def resolved(p: Profile) -> list[tuple[list[Frame], list[int], dict[str, str]]]:
    return [([p.frames[i] for i in s.stack], s.values, s.labels) for s in p.samples]


def test_pprof_round_trip_keeps_stacks_values_inlining_labels_and_metadata(tmp_path):
    p = sample_profile()
    path = tmp_path / "p.pb.gz"
    assert write_profile(p, path) == "pprof"
    assert path.read_bytes()[:2] == b"\x1f\x8b"  # gzipped, as pprof requires on disk
    q = read_profile(path)
    assert resolved(q) == resolved(p)
    assert q.samples[0].num_labels == {"bytes": (512, "bytes")}
    assert (q.sample_types, q.period, q.period_type) == (p.sample_types, p.period, p.period_type)
    assert (q.time_ns, q.duration_ns, q.main_module, q.comments) == (
        p.time_ns, p.duration_ns, p.main_module, p.comments)


def test_stripped_frame_reads_as_module_plus_offset():
    assert Frame("", module="/opt/app/bin", address=0x1A2B).name == "bin+0x1a2b"
    assert Frame("", module="/opt/app/bin").name == "[bin]"


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_truncated_pprof_is_invalid_file_exit_2(tmp_path, capsys, cut):
    path = tmp_path / "p.pb.gz"
    write_profile(sample_profile(), path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(InvalidFile) as err:
        read_profile(path)
    assert err.value.exit_code == 2
    assert main(["pprof", "top", str(path)]) == 2
    assert "corrupt or truncated" in capsys.readouterr().err


def test_garbage_inside_valid_gzip_is_invalid_file(tmp_path):
    path = tmp_path / "g.pb.gz"
    path.write_bytes(gzip.compress(b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
    with pytest.raises(InvalidFile, match="not a valid pprof profile"):
        read_profile(path)


def test_dangling_location_id_is_invalid_file(tmp_path):
    msg = _profile_class()()
    msg.string_table.extend(["", "samples", "count"])
    msg.sample_type.add(type=1, unit=2)
    msg.sample.add(location_id=[99], value=[1])
    with pytest.raises(InvalidFile, match="inconsistent"):
        parse_profile(gzip.compress(msg.SerializeToString()))


def test_folded_round_trip_and_pyspy_frames():
    text = ("main (app.py:10);work (app.py:20);hot (lib.py:5) 7\n"
            "main (app.py:10);idle 3\n")
    p = parse_profile(text.encode(), fmt="pyspy-raw")
    leaf = p.frames[p.samples[0].stack[0]]
    assert (leaf.function, leaf.file, leaf.line) == ("hot", "lib.py", 5)
    assert p.total(0) == 10
    assert write_folded(p) == "".join(sorted(text.splitlines(keepends=True)))


def test_folded_empty_stack_counts_toward_the_total():
    p = parse_profile(b"main;work 4\n 1\n", fmt="pyspy-raw")
    assert p.total(0) == 5
    assert [s.stack for s in p.samples][1] == ()


def test_folded_bad_line_names_file_and_line():
    with pytest.raises(InvalidFile, match=r"x\.folded:2"):
        parse_profile(b"a;b 1\na;b notanumber\n", path="x.folded", fmt="folded")


def test_speedscope_round_trip_and_evented():
    p = sample_profile()
    doc = json.loads(write_speedscope(p, 1))
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    q = parse_profile(json.dumps(doc).encode())
    assert q.total(0) == p.total(1)
    evented = {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": [{"name": "a"}, {"name": "b"}]},
        "profiles": [{"type": "evented", "unit": "milliseconds", "startValue": 0, "endValue": 10,
                      "events": [{"type": "O", "frame": 0, "at": 0},
                                 {"type": "O", "frame": 1, "at": 2},
                                 {"type": "C", "frame": 1, "at": 6},
                                 {"type": "C", "frame": 0, "at": 10}]}],
    }
    e = parse_profile(json.dumps(evented).encode())
    by_stack = {tuple(e.frames[i].name for i in reversed(s.stack)): s.values[0]
                for s in e.samples}
    assert by_stack == {("a",): 6, ("a", "b"): 4}


def test_perf_script_parses_stacks_modules_kernel_and_unknown_frames():
    text = (FIXTURES / "perf_script.txt").read_text()
    assert sniff_format(text.encode()) == "perf-script"
    p = parse_profile(text.encode())
    assert p.total(0) == 4
    assert p.period == 10101010
    stacks = {tuple(p.frames[i].name for i in reversed(s.stack)): s.values[0] for s in p.samples}
    assert stacks[("main", "_PyEval_EvalFrameDefault", "tuple_alloc")] == 2
    assert stacks[("0x7f2d2b456240", "stripped-bin+0x1a2b")] == 1
    assert stacks[("main", "read", "do_syscall_64", "clear_page_erms")] == 1
    kernel = next(f for f in p.frames if f.function == "clear_page_erms")
    assert kernel.module == "[kernel.kallsyms]"


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "e.pb.gz"
    empty.write_bytes(b"")
    assert main(["pprof", "top", str(empty)]) == 2
    assert main(["pprof", "top", str(tmp_path / "nope")]) == 2
