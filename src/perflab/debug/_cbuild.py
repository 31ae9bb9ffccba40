"""A C module of the debug agent, compiled on first use for the interpreter that runs it.

The agent runs inside the user's process, whose Python need not be perflab's (``perflab run
--debug`` starts any ``python``), so nothing is built at install time: the first process that
asks builds the module with the system's C compiler against that interpreter's own headers
(``sysconfig``), keyed by the source and the interpreter's ABI, into a cache directory of the
user's (``$XDG_CACHE_HOME/perflab/ext``, else ``~/.cache/perflab/ext``) that it creates
private (0700) and uses only while it is the user's and writable by no one else. Later
processes load the built file. Builds are written under a temporary name and renamed into
place, so processes building at once never load a half-written file.

No compiler, no headers, a failed build or a cache directory that is not safe: ``load`` says
why and returns None, and the caller keeps its pure-Python path. Standard library only.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from types import ModuleType

ENV_CACHE = "PERFLAB_EXT_CACHE"  # where built modules go (tests; a read-only home)
BUILD_TIMEOUT_S = 120.0


def cache_dir() -> Path:
    given = os.environ.get(ENV_CACHE)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "perflab" / "ext"


def _safe(directory: Path) -> str | None:
    """Why ``directory`` must not hold code this process loads, or None when it is safe."""
    info = directory.stat()
    if info.st_uid != os.geteuid():
        return f"{directory} belongs to another user"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{directory} is writable by others"
    return None


def _built_name(name: str, source: bytes) -> str:
    """The file of ``name`` built from ``source`` for this interpreter: another source, Python
    version or ABI is another file."""
    key = hashlib.sha256(source + sys.version.encode() + str(sysconfig.get_config_var(
        "SOABI")).encode()).hexdigest()[:16]
    return f"{name}-{key}{sysconfig.get_config_var('EXT_SUFFIX') or '.so'}"


def _compile(source_path: Path, target: Path) -> str | None:
    """Build ``source_path`` into ``target``; why not, or None."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return "no C compiler (cc or gcc; apt-get install gcc)"
    include = sysconfig.get_paths().get("include") or ""
    if not (Path(include) / "Python.h").exists():
        return f"no Python headers in {include or '?'} (apt-get install python3-dev)"
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        done = subprocess.run(  # noqa: S603  # the system's compiler on our own source
            [compiler, "-O2", "-shared", "-fPIC", "-I", include, str(source_path), "-o", tmp],
            capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False)
        if done.returncode != 0:
            lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
            first_error = [ln for ln in lines if "error" in ln][:1]
            return f"{compiler} failed: {(first_error or lines or ['no message'])[-1][:300]}"
        Path(tmp).replace(target)  # atomic: a process loading it sees all of it or nothing
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{compiler} could not run: {exc}"
    finally:
        Path(tmp).unlink(missing_ok=True)
    return None


def load(module_name: str, source_path: Path) -> tuple[ModuleType | None, str]:
    """The C module ``module_name`` (dotted: its last part names its ``PyInit_``) built from
    ``source_path``, and where it came from; or None and why it could not be had."""
    try:
        source = source_path.read_bytes()
        directory = cache_dir()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        unsafe = _safe(directory)
        if unsafe:
            return None, f"not built: {unsafe}"
        target = directory / _built_name(module_name.rsplit(".", 1)[-1], source)
        if not target.exists():
            failed = _compile(source_path, target)
            if failed:
                return None, f"not built: {failed}"
        loader = importlib.machinery.ExtensionFileLoader(module_name, str(target))
        spec = importlib.util.spec_from_file_location(module_name, target, loader=loader)
        if spec is None:
            return None, f"not loaded: {target} is not a module"
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except (OSError, ImportError) as exc:
        return None, f"not loaded: {exc}"
    return module, str(target)
