"""Ranges of a run's slices: equal stacks added up across slices, totals kept."""

from __future__ import annotations

from perflab.profile import Frame, Profile, SampleType
from perflab.profile._timeline import merge_compact


def one(func: str, n: int, t_ns: int, labels: dict[str, str] | None = None) -> Profile:
    p = Profile(sample_types=[SampleType("samples", "count"), SampleType("cpu", "nanoseconds")],
                time_ns=t_ns, duration_ns=10, default_sample_type="cpu")
    p.add([Frame(func), Frame("main")], [n, n * 100], labels)
    p.add([Frame("other"), Frame("main")], [1, 100])
    return p


def test_equal_stacks_of_different_slices_become_one_sample():
    merged = merge_compact([one("hot", 3, 0), one("hot", 4, 10), one("cold", 2, 20)])
    assert merged.total(0) == 3 + 1 + 4 + 1 + 2 + 1
    assert merged.total(1) == 100 * merged.total(0)
    assert len(merged.samples) == 3  # hot;main, other;main, cold;main
    by_leaf = {merged.frames[s.stack[0]].function: s.values for s in merged.samples}
    assert by_leaf == {"hot": [7, 700], "other": [3, 300], "cold": [2, 200]}
    assert (merged.time_ns, merged.duration_ns) == (0, 30)
    assert merged.default_sample_type == "cpu"


def test_samples_with_different_labels_stay_apart():
    merged = merge_compact([one("hot", 1, 0, {"thread": "a"}), one("hot", 1, 10, {"thread": "b"}),
                            one("hot", 2, 20, {"thread": "a"})])
    hot = sorted((s.labels["thread"], s.values[0]) for s in merged.samples
                 if merged.frames[s.stack[0]].function == "hot")
    assert hot == [("a", 3), ("b", 1)]
