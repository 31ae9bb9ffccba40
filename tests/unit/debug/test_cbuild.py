"""The debug agent's C modules, built on first use for the interpreter that runs them: built
once into a private cache, loaded from it after, and every reason not to a message."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest
from tests.conftest import require_tool

from perflab.debug import _cbuild

HELLO = """
#define PY_SSIZE_T_CLEAN
#include <Python.h>
static PyObject *answer(PyObject *m, PyObject *a) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "%s", NULL, -1, methods};
PyMODINIT_FUNC PyInit_%s(void) { return PyModule_Create(&def); }
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "cache" / "ext"
    monkeypatch.setenv(_cbuild.ENV_CACHE, str(where))
    return where


def _source(tmp_path: Path, name: str, text: str | None = None) -> Path:
    path = tmp_path / f"{name}.c"
    path.write_text(text if text is not None else HELLO % (name, name))
    return path


def test_built_once_private_then_loaded_from_the_cache(tmp_path, cache, monkeypatch):
    require_tool("gcc")
    module, where = _cbuild.load("pkg._hello_once", _source(tmp_path, "_hello_once"))
    assert module is not None, where
    assert module.answer() == 42
    assert Path(where).parent == cache
    assert cache.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in cache.iterdir()] == [Path(where).name]  # no temporary file left
    # a second process finds it built: no compiler is needed any more
    monkeypatch.setenv("CC", "/nonexistent/cc")
    again, where_again = _cbuild.load("pkg._hello_once", _source(tmp_path, "_hello_once"))
    assert again is not None
    assert where_again == where


def test_another_source_is_another_build(tmp_path, cache):
    require_tool("gcc")
    first = _source(tmp_path, "_hello_two")
    _, one = _cbuild.load("pkg._hello_two", first)
    first.write_text(HELLO % ("_hello_two", "_hello_two") + "\n/* changed */\n")
    _, two = _cbuild.load("pkg._hello_two", first)
    assert one != two
    assert len(list(cache.iterdir())) == 2


def test_a_failed_build_says_the_compilers_first_error(tmp_path, cache):
    require_tool("gcc")
    module, why = _cbuild.load("pkg._broken", _source(tmp_path, "_broken", "int f( {\n"))
    assert module is None
    assert why.startswith("not built: ")
    assert "failed: " in why
    assert "_broken.c:1" in why
    assert "error" in why
    assert list(cache.iterdir()) == []  # nothing half-written is kept


def test_no_compiler_is_named(tmp_path, cache, monkeypatch):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    module, why = _cbuild.load("pkg._nocc", _source(tmp_path, "_nocc"))
    assert (module, why) == (None, "not built: no C compiler (cc or gcc; apt-get install gcc)")


def test_no_python_headers_are_named(tmp_path, cache, monkeypatch):
    require_tool("gcc")
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"include": str(tmp_path / "none")})
    module, why = _cbuild.load("pkg._noh", _source(tmp_path, "_noh"))
    assert module is None
    assert why == (f"not built: no Python headers in {tmp_path / 'none'} "
                   "(apt-get install python3-dev)")


def test_a_cache_others_can_write_is_not_used(tmp_path, cache):
    cache.mkdir(parents=True)
    cache.chmod(0o777)
    module, why = _cbuild.load("pkg._shared", _source(tmp_path, "_shared"))
    assert (module, why) == (None, f"not built: {cache} is writable by others")
