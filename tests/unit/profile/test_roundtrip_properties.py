"""Properties: any profile survives pprof encoding; folded keeps per-stack totals."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from perflab.profile import Frame, Profile, SampleType, parse_profile
from perflab.profile._pprof import decode, encode
from perflab.profile._text_formats import write_folded

names = st.sampled_from(["main", "a", "b", "<module>", "std::f<int>", "x.y.(*T).m", "λ"])
frames = st.builds(Frame, function=names, file=st.sampled_from(["", "a.go", "b.py"]),
                   line=st.integers(0, 500), module=st.sampled_from(["", "/bin/app", "/lib/l.so"]))
stacks = st.lists(frames, min_size=1, max_size=8)
samples = st.lists(st.tuples(stacks, st.integers(0, 10**12), st.integers(-5, 10**6)),
                   min_size=0, max_size=30)


def build(rows: list[tuple[list[Frame], int, int]]) -> Profile:
    p = Profile(sample_types=[SampleType("samples", "count"), SampleType("cpu", "nanoseconds")],
                main_module="/bin/app")
    for stack, a, b in rows:
        p.add(stack, [a, b])
    return p


@settings(max_examples=60, deadline=None)
@given(samples)
def test_pprof_round_trip_keeps_every_sample(rows):
    p = build(rows)
    q = decode(encode(p))
    assert [([q.frames[i] for i in s.stack], s.values) for s in q.samples] == \
        [([p.frames[i] for i in s.stack], s.values) for s in p.samples]


@settings(max_examples=60, deadline=None)
@given(samples)
def test_folded_keeps_totals_per_stack(rows):
    p = build(rows)
    text = write_folded(p, 0)
    if not text:
        assert p.total(0) == 0
        return
    q = parse_profile(text.encode(), fmt="folded")
    assert q.total(0) == sum(v for _, v, _ in rows)
