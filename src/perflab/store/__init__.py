"""The embedded store: one SQLite file (WAL) holding runs, series, samples, events, artifacts.

Public names: ``Store``, ``BatchWriter``, ``Run``, ``Series``, ``Event``, ``Artifact``,
``default_store_path``, ``canonical_labels``, ``format_labels`` (the one label renderer),
``SCHEMA_VERSION``, ``ROLLUP_NS`` (the width of
the per-minute rollups of finished runs), ``check_file`` and ``CheckResult`` (the full integrity
check), ``store_error`` (SQLite's errors about a file as perflab's), ``INT64_MIN``/``INT64_MAX``
(the range of times and ids a store holds), ``MAX_NAME_FILTER``; reading series for charts and
tables: ``sample_window`` (peak-keeping downsampling), ``summarize`` / ``Summary``,
``nearest_rank`` (perflab's one definition of a percentile), ``has_rollup``,
``missing_rollups``, ``SampleWindow``, ``MAX_POINTS``, ``DEFAULT_POINTS``; ``run_kinds``,
``runs_generation``, ``interrupt`` (stop a connection's running query from another thread) and
``set_query_deadline``, ``query_interrupted`` (a query stopped by either);
``IngestQueue`` / ``IngestStats``: the one bounded, batching path
from receivers into the store (a full queue refuses; nothing accepted is dropped). For metrics
(PromQL, receivers, the Prometheus API; schema v6): ``MetricSeries``, ``metric_series``,
``metric_samples`` / ``metric_arrays`` (through an hourly block cache),
``metric_names``, ``metrics_generation``, ``metric_meta``, the ingest
writers ``write_metric_samples`` / ``write_metric_columns`` (``MetricColumns``: a request's
samples column-wise) / ``write_metric_meta``, ``stale_nan`` / ``is_stale_nan``,
retention and the block cache's background packing: ``series_of_run_kinds``,
``oldest_sample_ns``, ``delete_samples_before``, ``store_used_bytes``, ``pack_hours``;
``end_event`` (an alert's band), ``set_run_span`` (an import's time), and silences:
``add_silence``, ``expire_silence``, ``silences``, ``SilenceRow``.

Spans (schema v5, ``_spans.py``): ``insert_spans`` with its ``SpanCatalog`` and ``SPAN_COLUMNS``,
``name_id``; reading: ``trace_spans``, ``find_trace_ids`` / ``SpanFilter`` / ``SpanMatch``,
``spans_matching``, ``trace_summaries`` / ``TraceSummary``, ``span_durations``,
``spans_in_window``, ``span_window_stats`` (count and latest start in a window),
``span_services``, ``span_operations``, ``span_processes``, ``service_edges``,
``StoredSpan``, ``StoredProcess``;
retention: ``span_stats``, ``span_bytes_estimate``, ``delete_spans_started_before``,
``delete_oldest_spans``, ``prune_span_catalog``; ``running_runs`` (where arriving data belongs).

Logs (schema v7, v8, ``_logs.py``, ``_log_minutes.py``): ``insert_logs`` with ``LOG_COLUMNS``
and ``log_stream_id``; reading: ``log_streams``, ``log_streams_in``, ``log_lines`` /
``StoredLog``, ``log_lines_of_trace`` (a trace's lines); for the pages and the live tail
(``_log_views.py``): ``last_log_id``, ``log_lines_after``, ``log_level_counts``; ``log_counts``
(what range functions count: whole minutes from the per-minute counts when no line's text is
needed); retention:
``log_stats``, ``log_bytes_estimate``, ``delete_logs_before``, ``delete_oldest_logs``.

Contracts (``_contracts.py``): the TypedDicts of the JSON the models give (``RunJson``,
``SeriesJson``, ``EventJson``, ``SampleWindowJson``, ``SummaryJson``) and of the documents of
``runs``, ``show``, ``query`` and ``store check`` (``RunsDoc``, ``ShowDoc``, ``QueryDoc``,
``StoreCheckDoc`` and their parts).
"""

from perflab.store._catalog import (
    interrupt,
    query_interrupted,
    run_kinds,
    runs_generation,
    set_query_deadline,
)
from perflab.store._contracts import (
    EventJson,
    QueryDoc,
    QuerySeries,
    RunJson,
    RunsDoc,
    RunsRun,
    SampleWindowJson,
    SeriesJson,
    ShowDoc,
    ShowProfile,
    ShowSeries,
    StoreCheckDoc,
    SummaryJson,
)
from perflab.store._errors import store_error
from perflab.store._ingest import IngestQueue, IngestStats
from perflab.store._log_views import last_log_id, log_level_counts, log_lines_after
from perflab.store._logs import (
    LOG_COLUMNS,
    StoredLog,
    delete_logs_before,
    delete_oldest_logs,
    insert_logs,
    log_bytes_estimate,
    log_counts,
    log_lines,
    log_lines_of_trace,
    log_stats,
    log_stream_id,
    log_streams,
    log_streams_in,
)
from perflab.store._metrics import (
    MetricColumns,
    MetricSeries,
    SilenceRow,
    add_silence,
    delete_samples_before,
    end_event,
    expire_silence,
    is_stale_nan,
    metric_arrays,
    metric_meta,
    metric_names,
    metric_samples,
    metric_series,
    metrics_generation,
    oldest_sample_ns,
    pack_hours,
    series_of_run_kinds,
    set_run_span,
    silences,
    stale_nan,
    store_used_bytes,
    write_metric_columns,
    write_metric_meta,
    write_metric_samples,
)
from perflab.store._models import (
    Artifact,
    Event,
    Run,
    Series,
    canonical_labels,
    format_labels,
)
from perflab.store._open import CheckResult, check_file
from perflab.store._rollups import ROLLUP_NS
from perflab.store._schema import SCHEMA_VERSION
from perflab.store._spans import (
    SPAN_COLUMNS,
    SpanCatalog,
    SpanFilter,
    SpanMatch,
    StoredProcess,
    StoredSpan,
    TraceSummary,
    delete_oldest_spans,
    delete_spans_started_before,
    find_trace_ids,
    insert_spans,
    name_id,
    prune_span_catalog,
    running_runs,
    service_edges,
    span_bytes_estimate,
    span_durations,
    span_operations,
    span_processes,
    span_services,
    span_stats,
    span_window_stats,
    spans_in_window,
    spans_matching,
    trace_spans,
    trace_summaries,
)
from perflab.store._store import (
    INT64_MAX,
    INT64_MIN,
    MAX_NAME_FILTER,
    Store,
    default_store_path,
)
from perflab.store._windows import (
    DEFAULT_POINTS,
    MAX_POINTS,
    SampleWindow,
    Summary,
    has_rollup,
    missing_rollups,
    nearest_rank,
    sample_window,
    summarize,
)
from perflab.store._writer import BatchWriter

__all__ = [
    "DEFAULT_POINTS",
    "INT64_MAX",
    "INT64_MIN",
    "LOG_COLUMNS",
    "MAX_NAME_FILTER",
    "MAX_POINTS",
    "ROLLUP_NS",
    "SCHEMA_VERSION",
    "SPAN_COLUMNS",
    "Artifact",
    "BatchWriter",
    "CheckResult",
    "Event",
    "EventJson",
    "IngestQueue",
    "IngestStats",
    "MetricColumns",
    "MetricSeries",
    "QueryDoc",
    "QuerySeries",
    "Run",
    "RunJson",
    "RunsDoc",
    "RunsRun",
    "SampleWindow",
    "SampleWindowJson",
    "Series",
    "SeriesJson",
    "ShowDoc",
    "ShowProfile",
    "ShowSeries",
    "SilenceRow",
    "SpanCatalog",
    "SpanFilter",
    "SpanMatch",
    "Store",
    "StoreCheckDoc",
    "StoredLog",
    "StoredProcess",
    "StoredSpan",
    "Summary",
    "SummaryJson",
    "TraceSummary",
    "add_silence",
    "canonical_labels",
    "check_file",
    "default_store_path",
    "delete_logs_before",
    "delete_oldest_logs",
    "delete_oldest_spans",
    "delete_samples_before",
    "delete_spans_started_before",
    "end_event",
    "expire_silence",
    "find_trace_ids",
    "format_labels",
    "has_rollup",
    "insert_logs",
    "insert_spans",
    "interrupt",
    "is_stale_nan",
    "last_log_id",
    "log_bytes_estimate",
    "log_counts",
    "log_level_counts",
    "log_lines",
    "log_lines_after",
    "log_lines_of_trace",
    "log_stats",
    "log_stream_id",
    "log_streams",
    "log_streams_in",
    "metric_arrays",
    "metric_meta",
    "metric_names",
    "metric_samples",
    "metric_series",
    "metrics_generation",
    "missing_rollups",
    "name_id",
    "nearest_rank",
    "oldest_sample_ns",
    "pack_hours",
    "prune_span_catalog",
    "query_interrupted",
    "run_kinds",
    "running_runs",
    "runs_generation",
    "sample_window",
    "series_of_run_kinds",
    "service_edges",
    "set_query_deadline",
    "set_run_span",
    "silences",
    "span_bytes_estimate",
    "span_durations",
    "span_operations",
    "span_processes",
    "span_services",
    "span_stats",
    "span_window_stats",
    "spans_in_window",
    "spans_matching",
    "stale_nan",
    "store_error",
    "store_used_bytes",
    "summarize",
    "trace_spans",
    "trace_summaries",
    "write_metric_columns",
    "write_metric_meta",
    "write_metric_samples",
]
