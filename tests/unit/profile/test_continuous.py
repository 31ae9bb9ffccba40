"""Profile slices on a run's timeline: stored as artifacts, ranges read back merged."""

from __future__ import annotations

import json

import pytest
from tests._schemas import validate

from perflab.cli import main
from perflab.errors import NotFound
from perflab.profile import (
    Frame,
    Profile,
    SampleType,
    StoreSink,
    merge,
    profile_of_range,
    read_profile,
)

S = 1_000_000_000


def slice_profile(func: str, n: int, t_ns: int) -> Profile:
    p = Profile(sample_types=[SampleType("samples", "count"), SampleType("cpu", "nanoseconds")],
                time_ns=t_ns, duration_ns=10 * S, default_sample_type="cpu")
    p.add([Frame(func), Frame("main")], [n, n * 10_000_000])
    return p


def test_merge_sums_samples_and_spans_the_windows():
    m = merge([slice_profile("a", 3, 0), slice_profile("a", 2, 10 * S),
               slice_profile("b", 1, 20 * S)])
    assert m.total(0) == 6
    assert m.duration_ns == 30 * S
    assert len({f.function for f in m.frames}) == 3


def test_slices_stored_and_ranges_selected(store, store_path, capsys):
    run = store.create_run("profile", "p", started_ns=100 * S)
    sink = StoreSink(str(store_path), run.id)
    sink(100 * S, 110 * S, slice_profile("before", 5, 100 * S), "perf")
    sink(110 * S, 120 * S, slice_profile("spike", 7, 110 * S), "perf")
    sink.close()
    assert [a.name for a in store.artifacts(run.id, "profile")] == ["cpu", "cpu"]
    first = profile_of_range(store, run.id, 100 * S, 105 * S)
    assert {f.function for f in first.frames} == {"before", "main"}
    both = profile_of_range(store, run.id)
    assert both.total(0) == 12
    with pytest.raises(NotFound):
        profile_of_range(store, run.id, 200 * S, 210 * S)
    # the CLI: a range relative to the run's start, written as pprof
    out = store_path.parent / "spike.pb.gz"
    assert main(["profile", "export", str(run.id), "--from", "12s", "--to", "15s", "-o",
                 str(out), "--store", str(store_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    validate(doc, "profile-export")
    assert {f.function for f in read_profile(out).frames} == {"spike", "main"}
