"""What memcheck, massif and the sanitizers report, in one shape: errors grouped by kind and
stack (the same fault met a thousand times in a loop is one group with a count), the leak
summary, and whether the run should fail (definite leaks, invalid accesses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from perflab.profile import Frame

SCHEMA = "perflab.memcheck/1"
GROUP_FRAMES = 8   # frames of a stack that identify its group (deeper ones vary by caller)

# what fails the check: definite leaks and invalid accesses (valgrind's and ASan's names)
FAILING_PREFIXES = ("Invalid", "Mismatched", "Leak_DefinitelyLost", "heap-", "stack-",
                    "global-", "use-after", "double-free", "alloc-dealloc", "direct leak",
                    "SEGV", "bad-free")
_ALLOCATORS = {"malloc", "calloc", "realloc", "free", "operator new(unsigned long)",
               "operator new[](unsigned long)", "operator delete(void*)", "__interceptor_malloc",
               "__interceptor_calloc", "__interceptor_realloc", "__interceptor_free",
               "reallocarray", "memalign", "posix_memalign", "aligned_alloc", "strdup"}


def frame_json(frame: Frame) -> dict[str, Any]:
    """A frame as the schema has it: the binary or library it is in is its ``object``."""
    return {"function": frame.function, "file": frame.file, "line": frame.line,
            "object": frame.module}


@dataclass(slots=True)
class MemError:
    """One error as the tool reported it."""

    kind: str
    what: str
    stack: list[Frame]
    bytes: int = 0
    blocks: int = 0
    aux: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Group:
    kind: str
    what: str
    stack: list[Frame]
    count: int = 0
    bytes: int = 0
    blocks: int = 0

    @property
    def fails(self) -> bool:
        return self.kind.startswith(FAILING_PREFIXES) or self.kind.lower().startswith(
            FAILING_PREFIXES)

    @property
    def culprit(self) -> str:
        """The first frame of the program's own code: past the allocator's frames."""
        own = next((f for f in self.stack if f.function not in _ALLOCATORS), None)
        return own.function if own else (self.stack[0].function if self.stack else "?")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "what": self.what, "count": self.count, "bytes": self.bytes,
                "blocks": self.blocks, "fails": self.fails, "function": self.culprit,
                "stack": [frame_json(f) for f in self.stack]}


def group_errors(errors: list[MemError]) -> list[Group]:
    """Errors grouped by kind and the top of their stack; failing groups first, then by count
    and bytes."""
    groups: dict[tuple[Any, ...], Group] = {}
    for err in errors:
        key = (err.kind, tuple((f.function, f.file, f.line) for f in err.stack[:GROUP_FRAMES]))
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(err.kind, err.what, err.stack)
        group.count += 1
        group.bytes += err.bytes
        group.blocks += err.blocks
    return sorted(groups.values(), key=lambda g: (not g.fails, -g.bytes, -g.count, g.kind))


def leak_summary(errors: list[MemError]) -> dict[str, int]:
    """Bytes lost by kind (valgrind's Leak_* kinds and the sanitizers' direct/indirect)."""
    out = {"definitely_lost": 0, "indirectly_lost": 0, "possibly_lost": 0,
           "still_reachable": 0}
    names = {"Leak_DefinitelyLost": "definitely_lost", "direct leak": "definitely_lost",
             "Leak_IndirectlyLost": "indirectly_lost", "indirect leak": "indirectly_lost",
             "Leak_PossiblyLost": "possibly_lost", "Leak_StillReachable": "still_reachable"}
    for err in errors:
        name = names.get(err.kind)
        if name:
            out[name] += err.bytes
    return out


def report(*, source: str, command: list[str] | None, errors: list[MemError],
           exit_code: int | None, crash: dict[str, Any] | None, notes: list[str],
           massif: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``memcheck.schema.json`` document (without its run)."""
    groups = group_errors(errors)
    failing = any(g.fails for g in groups)
    return {"schema": SCHEMA, "source": source, "command": command, "exit_code": exit_code,
            "crash": crash, "errors": len(errors), "groups": [g.to_json() for g in groups],
            "leak_summary": leak_summary(errors), "failing": failing, "massif": massif,
            "notes": notes}
