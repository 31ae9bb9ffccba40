"""perflab.testing's public names, pinned: users' own test suites import them."""

from __future__ import annotations

import inspect

import perflab.testing


def test_testing_public_names():
    assert sorted(perflab.testing.__all__) == ["Served", "free_port", "serve"]
    for name in perflab.testing.__all__:
        assert hasattr(perflab.testing, name), name


def test_serve_keeps_its_signature():
    params = inspect.signature(perflab.testing.serve).parameters
    assert list(params) == ["store", "args", "token", "start_timeout_s", "log_path"]
    assert all(params[p].kind is inspect.Parameter.KEYWORD_ONLY
               for p in ("token", "start_timeout_s", "log_path"))
