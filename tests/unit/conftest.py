"""Shared set-up of the hub's unit tests: ``hub``, a store with known runs and samples
(tests/_hubdata.py), and ``client``, the hub in-process over it (tests/unit/_webclient.py).
A test module that needs other data defines its own fixture of the same name."""

from __future__ import annotations

import pytest
from _webclient import hub_client

from _hubdata import build


@pytest.fixture
def hub(store_path):
    return build(store_path)


@pytest.fixture
def client(hub):
    with hub_client(hub.path) as c:
        yield c
