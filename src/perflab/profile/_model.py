"""The one profile model every codec reads into and writes from.

A profile is a table of frames, a list of samples (each a leaf-first stack of frame indices
with one value per sample type, plus labels) and the metadata pprof carries: sample types with
units, the sampling period, the time window, the main binary. Inlining is kept per frame
(``Frame.inlined``: this frame was inlined into the next frame outward), which is what
``go tool pprof`` needs to label nodes ``(inline)``; codecs that have no notion of inlining
leave it False.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Frame:
    """One stack frame. ``module`` is the binary or shared object it belongs to."""

    function: str
    file: str = ""
    line: int = 0
    module: str = ""
    address: int = 0
    inlined: bool = False

    @property
    def name(self) -> str:
        """What a person reads: the function, else ``module+0xaddr`` (stripped binaries)."""
        if self.function:
            return self.function
        base = self.module.rsplit("/", 1)[-1]
        if base and self.address:
            return f"{base}+0x{self.address:x}"
        if base:
            return f"[{base}]"
        return f"0x{self.address:x}" if self.address else "<unknown>"


@dataclass(frozen=True, slots=True)
class SampleType:
    type: str
    unit: str

    def __str__(self) -> str:
        return f"{self.type}/{self.unit}"


@dataclass(slots=True)
class Sample:
    """``stack`` holds indices into ``Profile.frames``, leaf first (pprof's order)."""

    stack: tuple[int, ...]
    values: list[int]
    labels: dict[str, str] = field(default_factory=dict)
    num_labels: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass(slots=True)
class Profile:
    sample_types: list[SampleType]
    frames: list[Frame] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    period: int = 0
    period_type: SampleType | None = None
    time_ns: int = 0
    duration_ns: int = 0
    default_sample_type: str = ""
    comments: list[str] = field(default_factory=list)
    main_module: str = ""
    build_id: str = ""
    _frame_index: dict[Frame, int] = field(default_factory=dict, repr=False)

    def intern(self, frame: Frame) -> int:
        """The index of ``frame`` in the frame table, adding it if new."""
        idx = self._frame_index.get(frame)
        if idx is None:
            if len(self._frame_index) != len(self.frames):  # frames were assigned directly
                self._frame_index = {f: i for i, f in enumerate(self.frames)}
                idx = self._frame_index.get(frame)
                if idx is not None:
                    return idx
            idx = len(self.frames)
            self.frames.append(frame)
            self._frame_index[frame] = idx
        return idx

    def replace_frame(self, index: int, frame: Frame) -> None:
        """Rewrite one frame of the table (samples keep pointing at ``index``)."""
        old = self.frames[index]
        self.frames[index] = frame
        if self._frame_index.get(old) == index:
            del self._frame_index[old]
        self._frame_index.setdefault(frame, index)

    def add(self, stack_leaf_first: list[Frame], values: list[int],
            labels: dict[str, str] | None = None) -> None:
        """Add one sample whose stack is given leaf first."""
        self.samples.append(Sample(tuple(self.intern(f) for f in stack_leaf_first),
                                   list(values), dict(labels or {})))

    def sample_index(self, name: str | None) -> int:
        """The index of a sample type, by name or number, with pprof's defaults.

        ``None``/"" picks the default sample type, else the last one; ``inuse_`` prefixes are
        accepted for profiles whose types are ``space``/``objects`` (as pprof does).
        """
        from perflab.errors import InvalidValue  # noqa: PLC0415  # keep the model import-light

        if not self.sample_types:
            raise InvalidValue("the profile has no sample types")
        if not name:
            for i, st in enumerate(self.sample_types):
                if self.default_sample_type and st.type == self.default_sample_type:
                    return i
            return len(self.sample_types) - 1
        if name.isdigit():
            i = int(name)
            if i >= len(self.sample_types):
                raise InvalidValue(
                    f"sample_index {name} is outside the range [0..{len(self.sample_types) - 1}]")
            return i
        stripped = name.removeprefix("inuse_")
        for i, st in enumerate(self.sample_types):
            if st.type in (name, stripped):
                return i
        raise InvalidValue(f"sample_index {name!r} must be one of: "
                           + ", ".join(st.type for st in self.sample_types))

    def total(self, index: int) -> int:
        return sum(abs(s.values[index]) for s in self.samples)

    def stacks_root_first(self, index: int) -> list[tuple[list[str], int]]:
        """(frame names root first, value) per sample with a non-zero value."""
        names = [f.name for f in self.frames]
        out = []
        for s in self.samples:
            v = s.values[index]
            if v:
                out.append(([names[i] for i in reversed(s.stack)], v))
        return out
