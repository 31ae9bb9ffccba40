"""Allocation sites of a native process (C, C++, Rust on glibc): bpftrace uprobes on libc's
``malloc``/``calloc``/``realloc``/``free``.

An allocation is sampled at entry (one in ``every``, chosen by the low bits of the clock), its
returned address (uretprobe) keyed to its size and its user stack; ``free`` (and ``realloc`` of
a sampled address) takes it off again. So the map ``@bytes[stack]`` holds the sampled bytes still
live by stack, which is the same "live bytes by site" that Go's heap profile and tracemalloc
give, and the same growth ranking (``_leak_sites``) orders them. bpftrace prints it every few
seconds while it runs; the watch reads the latest print at each snapshot.

Why not perf: ``perf record -e probe_libc:malloc`` writes every call to a file and cannot pair
a ``free`` with its ``malloc`` in the kernel; bpftrace keeps the outstanding set in BPF maps.

The uprobes fire on every call, sampled or not (a few microseconds each), so an allocation-heavy
process runs slower while it is watched; sampling bounds the map work and the stack walks, and
``every`` trades precision for that. Stacks are walked by frame pointers: a binary built without
them gives short stacks (the site is still the caller of malloc). Statically linked programs
(Go, musl) have no libc to probe: a note says so.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from perflab.debug._goheap import SiteSample
from perflab.ebpf import resolve_library, run_bpftrace, split_key
from perflab.errors import PerflabError

EVERY = 4            # one allocation in EVERY is sampled
DEPTH = 12           # user stack frames kept
MARGIN_S = 60.0      # bpftrace exits on its own this long after the watch should have ended
MAP_KEYS = 65536     # the size of bpftrace's maps as run_bpftrace sets it (BPFTRACE_MAP_KEYS_MAX)
FULL_NOTE = ("native allocation sampling: the map of sampled live allocations is full "
             f"({MAP_KEYS:,} entries): allocations sampled after that are not counted, so the "
             "growth of the last snapshots is too low; watch for a shorter time")
_FRAME = re.compile(r"^(?:(?P<address>[0-9a-f]+) )?(?P<function>.*?)(?:\+\d+)?"
                    r"(?: \((?P<module>[^()]*)\))?$")
# frames that belong to the allocator rather than to the code that allocates
_ALLOCATOR_MODULES = ("libc.so", "libc-", "libstdc++", "ld-linux", "libgcc_s")
_ALLOCATOR_FUNCTIONS = ("malloc", "calloc", "realloc", "operator new", "__rust_alloc",
                        "__rust_realloc", "__rdl_", "__rg_", "alloc::", "<alloc::", "std::alloc")


def program(pid: int, libc: str, *, every: int, print_s: int, duration_s: float) -> str:
    """The bpftrace program: sampled outstanding bytes and objects by user stack."""
    lib = f"uprobe:{libc}"
    ret = f"uretprobe:{libc}"
    take = (f"if (retval != 0) {{ $st = ustack(perf, {DEPTH}); @sz[retval] = $size; "
            "@stk[retval] = $st; @bytes[$st] = @bytes[$st] + $size; "
            "@objs[$st] = @objs[$st] + 1; }")
    drop = ("$st = @stk[$p]; @bytes[$st] = @bytes[$st] - @sz[$p]; "
            "@objs[$st] = @objs[$st] - 1; delete(@sz[$p]); delete(@stk[$p]);")
    sampled = f"pid == {pid} && nsecs % {every} == 0"
    returned = (f"/pid == {pid} && @req[tid]/ "
                f"{{ $size = @req[tid]; delete(@req[tid]); {take} }}")
    realloc = f"if (nsecs % {every} == 0) {{ @req[tid] = arg1; }}"
    return "\n".join([
        f"{lib}:malloc /{sampled}/ {{ @req[tid] = arg0; }}",
        f"{lib}:calloc /{sampled}/ {{ @req[tid] = arg0 * arg1; }}",
        f"{ret}:malloc,{ret}:calloc {returned}",
        # realloc: the old block goes (if it was sampled), the new one may be sampled
        f"{lib}:realloc /pid == {pid}/ {{ $p = arg0; if (@sz[$p]) {{ {drop} }} {realloc} }}",
        f"{ret}:realloc {returned}",
        f"{lib}:free /pid == {pid} && @sz[arg0]/ {{ $p = arg0; {drop} }}",
        f"interval:s:{print_s} {{ print(@bytes); print(@objs); }}",
        f"interval:s:{max(1, round(duration_s))} {{ exit(); }}",
        # the per-address maps can be large: not printed at the end
        "END { clear(@sz); clear(@stk); clear(@req); }",
    ]) + "\n"


def parse_frame(text: str) -> tuple[str, str]:
    """``55be8e5d919b leak_here+18 (/tmp/leak)`` -> (``leak_here``, ``/tmp/leak``)."""
    m = _FRAME.match(text.strip())
    if m is None:  # pragma: no cover  (the pattern matches any text)
        return text, ""
    return m["function"] or "[unknown]", m["module"] or ""


def _is_allocator(function: str, module: str) -> bool:
    base = module.rsplit("/", 1)[-1]
    return base.startswith(_ALLOCATOR_MODULES) or function.startswith(_ALLOCATOR_FUNCTIONS)


def frame_address(text: str) -> int | None:
    """The (return) address a ``ustack(perf)`` frame starts with."""
    m = _FRAME.match(text.strip())
    return int(m["address"], 16) if m is not None and m["address"] else None


Locate = Callable[[int, str], tuple[str, int] | None]


def site_samples(live_bytes: dict[str, int], live_objects: dict[str, int], *,
                 every: int, locate: Locate | None = None) -> dict[str, SiteSample]:
    """bpftrace's ``@bytes``/``@objs`` by stack -> live bytes by site (the first frame that is
    not the allocator's), scaled by the sampling rate to estimates of the whole. ``locate``
    gives a frame's source file and line from its address and module (else the module, 0)."""
    out: dict[str, SiteSample] = {}
    for key, sampled in live_bytes.items():
        if sampled <= 0:
            continue
        parts = split_key(key)
        texts = parts[0] if parts else []
        frames = [parse_frame(f) for f in texts]
        if not frames:
            continue
        at = next((i for i, (f, m) in enumerate(frames) if not _is_allocator(f, m)), 0)
        function, module = frames[at]
        address = frame_address(texts[at])
        where = locate(address, module) if locate and address and module else None
        file, line = where or (module, 0)
        site = f"{function} ({file}:{line})" if where else f"{function} ({module})"
        prev = out.get(site)
        stack = tuple(f"{f} ({m})" for f, m in frames)
        objects = max(0, live_objects.get(key, 0)) * every
        out[site] = SiteSample(function, file, line,
                               sampled * every + (prev.bytes if prev else 0),
                               objects + (prev.objects if prev else 0),
                               prev.stack if prev and prev.bytes >= sampled * every else stack)
    return out


class SourceLines:
    """Source file and line of return addresses in a process's binaries (built with ``-g``),
    through ``addr2line``; each address asked once."""

    def __init__(self, pid: int, addr2line: str | None = None) -> None:
        self.pid = pid
        self.addr2line = addr2line or shutil.which("addr2line")
        self._cache: dict[tuple[int, str], tuple[str, int] | None] = {}

    def __call__(self, address: int, module: str) -> tuple[str, int] | None:
        key = (address, module)
        if key not in self._cache:
            self._cache[key] = self._ask(address, module)
        return self._cache[key]

    def _offset(self, address: int, module: str) -> int | None:
        """The address as addr2line takes it: the offset in the file (a PIE or a library, laid
        out as GNU ld and lld do: text at the same virtual address as file offset), or the
        address itself in a fixed-address executable."""
        try:
            with Path(module).open("rb") as elf:
                if elf.read(18)[16:18] == b"\x02\x00":  # ET_EXEC
                    return address
            maps = Path(f"/proc/{self.pid}/maps").read_text()
        except OSError:
            return None
        for row in maps.splitlines():
            f = row.split(None, 5)
            if len(f) == 6 and f[5] == module:
                start, end = (int(x, 16) for x in f[0].split("-"))
                if start <= address < end:
                    return address - start + int(f[2], 16)
        return None

    def _ask(self, address: int, module: str) -> tuple[str, int] | None:
        offset = self._offset(address, module)
        if offset is None or self.addr2line is None:
            return None
        try:
            out = subprocess.run([self.addr2line, "-e", module, hex(offset - 1)],  # noqa: S603
                                 capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        file, _, line = out.stdout.strip().rpartition(":")
        line = line.split()[0] if line else ""  # "12 (discriminator 3)"
        if out.returncode != 0 or not file or file == "??" or not line.isdigit() \
                or line == "0":
            return None
        return file, int(line)


def libc_path(pid: int) -> str:
    """The libc the process has mapped, as a path bpftrace can open from here: through
    ``/proc/PID/root`` when the process runs in another mount namespace (a container)."""
    path = resolve_library(pid, "libc")
    inside = f"/proc/{pid}/root{path}"
    try:
        same = Path(path).samefile(inside)
    except OSError:
        same = False
    return path if same else inside


class NativeSource:
    """Live bytes by allocation site of a native process, through bpftrace uprobes on libc."""

    name = "native malloc sampling (bpftrace uprobes on libc)"

    def __init__(self, pid: int, *, duration_s: float, interval_s: float,
                 every: int = EVERY) -> None:
        self.pid = pid
        self.every = every
        self.failure: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._bytes: dict[str, int] | None = None
        self._objects: dict[str, int] = {}
        self._fresh = False
        self.attached = threading.Event()  # every probe is in place
        self._thread: threading.Thread | None = None
        self._lines = SourceLines(pid)
        try:
            libc = libc_path(pid)
        except PerflabError as err:
            self.failure = (f"native allocation sampling: {err} (a statically linked program, "
                            "Go or musl, has no libc malloc to probe; a Go service: give its "
                            "URL)")
            return
        text = program(pid, libc, every=every, print_s=max(1, round(interval_s)),
                       duration_s=duration_s + MARGIN_S)
        self._thread = threading.Thread(target=self._run, args=(text, duration_s + MARGIN_S),
                                        name="perflab-leak-native", daemon=True)
        self._thread.start()

    def _run(self, text: str, duration_s: float) -> None:
        try:
            run_bpftrace(text, what="native allocation sampling", duration_s=duration_s,
                         on_ready=self.attached.set, on_line=self._line, stop=self._stop)
        except PerflabError as err:
            hint = f" ({err.hint})" if err.hint else ""
            self.failure = f"no native allocation sites: {err}{hint}"

    def _line(self, line: str) -> None:
        if not line.startswith('{"type": "map"'):
            return
        try:
            data = json.loads(line)["data"]
        except (ValueError, KeyError):
            return
        with self._lock:
            if "@bytes" in data:
                self._bytes = {k: int(v) for k, v in data["@bytes"].items()}
            if "@objs" in data:
                self._objects = {k: int(v) for k, v in data["@objs"].items()}
                self._fresh = self._bytes is not None
                # each live sampled object is one entry of the per-address maps
                if sum(self._objects.values()) >= MAP_KEYS * 0.95:
                    self.failure = FULL_NOTE

    def sample(self) -> dict[str, float]:
        return {}  # the trend comes from smaps; the uprobes name the sites

    def sites(self) -> dict[str, SiteSample] | None:
        """The latest print, once: a snapshot with nothing new since the last is None."""
        with self._lock:
            if not self._fresh or self._bytes is None:
                return None
            self._fresh = False
            live_bytes, live_objects = self._bytes, self._objects
        return site_samples(live_bytes, live_objects, every=self.every, locate=self._lines)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

