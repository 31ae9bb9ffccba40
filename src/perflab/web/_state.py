"""What the app's handlers share: store connections, templates, the live view, the recording."""

from __future__ import annotations

from dataclasses import dataclass, field

import jinja2

from perflab.serving import ConcurrencyLimiter
from perflab.web._api import HEAVY_ACTIVE, HEAVY_WAITING
from perflab.web._bench import BenchCache
from perflab.web._db import StorePool
from perflab.web._live import LiveView
from perflab.web._metrics import HubMetrics
from perflab.web._recording import BackgroundRecording
from perflab.web._summaries import SummaryCache


@dataclass
class AppState:
    stores: StorePool
    templates: jinja2.Environment
    live: LiveView
    metrics: HubMetrics
    recording: BackgroundRecording | None
    host: str
    summaries: SummaryCache
    benches: BenchCache = field(default_factory=BenchCache)
    heavy: ConcurrencyLimiter = field(default_factory=lambda: ConcurrencyLimiter(
        HEAVY_ACTIVE, HEAVY_WAITING, what="sample reads"))
