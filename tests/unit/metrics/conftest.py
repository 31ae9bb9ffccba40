"""Shared set-up of the metrics tests: a hub in-process over a store with known samples."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _metricsdata import openmetrics_text
from _webclient import client_class

from perflab.metrics import HubOptions, import_exposition
from perflab.store import Store
from perflab.web import AppConfig, create_app


@dataclass
class Hub:
    path: Path
    run_id: int
    client: Any


@pytest.fixture
def imported(tmp_path: Path) -> tuple[Path, int]:
    path = tmp_path / "perflab.db"
    data = tmp_path / "data.om"
    data.write_text(openmetrics_text())
    with Store.open(path) as store:
        result = import_exposition(store, data)
    return path, result.run_id


@pytest.fixture
def hub(imported: tuple[Path, int]) -> Iterator[Hub]:
    path, run_id = imported
    app = create_app(AppConfig(store_path=path, record=False, rollups=False,
                               metrics=HubOptions(default_rules=False)))
    with client_class()(app) as client:
        yield Hub(path, run_id, client)
