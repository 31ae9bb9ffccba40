"""One name per function across profilers, so that two profiles of one program compare.

perf (through the symbol table) and Go's runtime/pprof (through its own tables) name the same Go
code differently; a diff that compares names as written shows a function vanish from one side
and appear on the other (±28 pp on a real capture, ``tests/fixtures/profile/go_perf_vs_pprof``):

    perf                                   pprof                        canonical
    main.(*T).m                            main.(*T).m                  main.T.m
    sort.(*IntSlice).Less   (the wrapper)  sort.IntSlice.Less (inlined) sort.IntSlice.Less
    runtime.goexit.abi0                    runtime.goexit               runtime.goexit
    slices.Sort[go.shape.int]              slices.Sort[...]             slices.Sort[...]
    [unknown] (/app/bin) 0x4a10            (address only)               [bin]
    finish_task_switch.isra.0              -                            finish_task_switch

A Go type cannot have a method of one name on both ``T`` and ``*T``, so dropping the pointer
receiver never merges two functions. Between profiles from *different* profilers the frames one
of them cannot see are folded into their callers too: kernel frames (perf sees them; Go's
SIGPROF handler charges that time to the user frame below), and ``runtime.asyncPreempt`` (a
call Go's preemption signal injects, which runtime/pprof samples and perf does not).
"""

from __future__ import annotations

import re

from perflab.profile._model import Frame, Profile, Sample

_ABI = re.compile(r"\.abi(?:0|internal)$")
_POINTER_RECEIVER = re.compile(r"\(\*([^()]+)\)")
_CLONE = re.compile(r"(?:\.(?:isra|constprop|part|lto_priv)\.\d+|\.cold)+$")
_MODULE_ADDR = re.compile(r"^(?P<module>[^\s+]+)\+0x[0-9a-f]+$")
_ADDRESS = re.compile(r"^0x[0-9a-f]+$")
_INJECTED = frozenset({"runtime.asyncPreempt", "runtime.asyncPreempt2"})
KERNEL = "[kernel]"


def canonical_name(name: str) -> str:
    """The name both profilers' forms of one function map to (see the module's table)."""
    if name in ("[unknown]", "<unknown>", "") or _ADDRESS.match(name):
        return "[unknown]"
    m = _MODULE_ADDR.match(name)
    if m:
        return f"[{m['module'].rsplit('/', 1)[-1]}]"
    name = _ABI.sub("", name)
    name = _CLONE.sub("", name)
    name = _POINTER_RECEIVER.sub(r"\1", name)
    return _generic_args(name)


def _generic_args(name: str) -> str:
    """``F[go.shape.int]`` (perf) and ``F[...]`` (pprof) are both ``F[...]``."""
    if "[" not in name or name.startswith("["):
        return name
    out: list[str] = []
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == "[" and i > 0:
            depth, j = 0, i
            while j < len(name):
                depth += {"[": 1, "]": -1}.get(name[j], 0)
                if depth == 0:
                    break
                j += 1
            inner = name[i + 1:j]
            if inner == "..." or inner.startswith("go.shape.") or ",go.shape." in inner:
                out.append("[...]")
                i = j + 1
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def source_of(prof: Profile) -> str:
    """Which profiler wrote ``prof``: ``perf``, ``bpftrace``, ``py-spy``, ``go`` (runtime/pprof)
    or ``""`` (not known), judged from perflab's own comment, else from the frames."""
    for comment in prof.comments:
        if comment.startswith("perflab: "):
            return comment.split()[1]
    if any(f.file.endswith(".go") for f in prof.frames):
        return "go"
    if any(_is_kernel(f) for f in prof.frames) or (
            prof.period_type is not None and prof.period_type.type in ("cpu-clock", "cycles",
                                                                       "task-clock")):
        return "perf"
    return ""


def _is_kernel(frame: Frame) -> bool:
    return frame.module.startswith("[kernel")


def normalised(prof: Profile, *, fold_foreign: bool) -> Profile:
    """A copy of ``prof`` with canonical names; ``fold_foreign`` also folds kernel frames and
    Go's injected preemption calls into their callers (for a diff across profilers)."""
    out = Profile(sample_types=list(prof.sample_types), period=prof.period,
                  period_type=prof.period_type, time_ns=prof.time_ns,
                  duration_ns=prof.duration_ns, default_sample_type=prof.default_sample_type,
                  comments=list(prof.comments), main_module=prof.main_module,
                  build_id=prof.build_id)
    mapped: list[int | None] = []
    for f in prof.frames:
        if fold_foreign and (_is_kernel(f) or f.function in _INJECTED):
            mapped.append(None)
        else:
            mapped.append(out.intern(Frame(canonical_name(f.name), inlined=f.inlined)))
    for s in prof.samples:
        stack = tuple(i for i in (mapped[k] for k in s.stack) if i is not None)
        if not stack:  # entirely in the kernel: one frame keeps its weight counted
            stack = (out.intern(Frame(KERNEL)),)
        out.samples.append(Sample(stack, list(s.values), dict(s.labels), dict(s.num_labels)))
    return out


def comparable(base: Profile, new: Profile) -> tuple[Profile, Profile, str | None]:
    """Both profiles under canonical names, and a warning when different profilers wrote them
    (then the frames only one of them sees are folded too; shares still differ by sampling)."""
    sb, sn = source_of(base), source_of(new)
    differ = bool(sb and sn and sb != sn)
    warning = None
    if differ:
        warning = (f"the profiles come from different profilers (base: {sb}, new: {sn}): "
                   "names were normalised and kernel frames and Go's asyncPreempt folded "
                   "into their callers; what each profiler can see still differs")
    return (normalised(base, fold_foreign=differ), normalised(new, fold_foreign=differ),
            warning)
