"""Bug 8: `profile diff` of a perf and a pprof profile of one Go program compares functions,
not the profilers' spellings of them (real captures in tests/fixtures/profile/go_perf_vs_pprof).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from perflab.cli import main
from perflab.profile import read_profile
from perflab.profile._diff import share_changes
from perflab.profile._names import canonical_name, comparable, source_of

DATA = Path(__file__).parents[2] / "fixtures" / "profile" / "go_perf_vs_pprof"
PPROF, PERF = DATA / "cpu.pb.gz", DATA / "perf-script.txt"


@pytest.mark.parametrize(("written", "canonical"), [
    ("main.(*T).m", "main.T.m"),
    ("sort.(*IntSlice).Less", "sort.IntSlice.Less"),
    ("main.foo.func1", "main.foo.func1"),
    ("runtime.mallocgc", "runtime.mallocgc"),
    ("runtime.goexit.abi0", "runtime.goexit"),
    ("runtime.morestack.abiinternal", "runtime.morestack"),
    ("slices.Sort[go.shape.int]", "slices.Sort[...]"),
    ("slices.Sort[...]", "slices.Sort[...]"),
    ("example.com/m.(*Set[go.shape.[]uint8,go.shape.int]).Add",
     "example.com/m.Set[...].Add"),
    ("[unknown]", "[unknown]"),
    ("0x7ffe9a58d400", "[unknown]"),
    ("gop+0x1a2b", "[gop]"),
    ("[gop]", "[gop]"),
    ("finish_task_switch.isra.0", "finish_task_switch"),
    ("memcpy", "memcpy"),
])
def test_canonical_names(written, canonical):
    assert canonical_name(written) == canonical


def test_sources_are_recognised_from_real_captures():
    assert source_of(read_profile(PPROF)) == "go"
    assert source_of(read_profile(PERF)) == "perf"


def _max_vanished(base, new) -> float:
    """The largest own share (pp) of a function that is absent (0 %) from the other side."""
    changes = share_changes(base, new, base.sample_index(None), new.sample_index(None))
    return max(100 * max(c.base_flat, c.new_flat) for c in changes
               if min(c.base_flat, c.new_flat) == 0)


def test_diff_of_perf_and_pprof_compares_the_same_functions():
    raw_base, raw_new = read_profile(PPROF), read_profile(PERF)
    # as written, sort.(*IntSlice).Less (perf) and runtime.asyncPreempt (pprof) each hold
    # about 28 % on one side and nothing on the other
    assert _max_vanished(raw_base, raw_new) > 25
    base, new, warning = comparable(raw_base, raw_new)
    assert warning is not None
    assert "different profilers (base: go, new: perf)" in warning
    # normalised, no function that matters is missing from either side (a 1-2 sample leaf
    # in one profile only is sampling, not naming)
    assert _max_vanished(base, new) < 2.5
    names = {c.name for c in share_changes(base, new, 0, 0)}
    assert {"main.T.m", "sort.IntSlice.Less", "main.foo.func1", "runtime.mallocgc"} <= names
    assert not any(n.startswith("runtime.asyncPreempt") or n.endswith(".abi0") for n in names)
    # totals are kept: folding moves weight to callers, it never drops a sample
    assert base.total(0) == raw_base.total(0)
    assert new.total(0) == raw_new.total(0)


def test_same_profiler_keeps_its_frames_and_does_not_warn():
    raw = read_profile(PERF)
    base, _, warning = comparable(raw, raw)
    assert warning is None
    assert any(f.function == "finish_task_switch" for f in base.frames)  # kernel kept


def test_cli_warns_when_sources_differ(capsys):
    assert main(["profile", "diff", str(PPROF), str(PERF), "--top", "3"]) == 0
    out, err = capsys.readouterr()
    assert "perflab: warning: the profiles come from different profilers" in err
    assert "sort.(*IntSlice).Less" not in out
