"""The shapes of the JSON documents this package answers with, one TypedDict per schema in
docs/schemas/ (bench-compare, bench-disk, bench-history, bench-record, bench-regressions,
bench-results, bench-system).

tests/unit/test_contracts.py checks each against its schema; the functions that build the
documents are annotated with them, so mypy checks what they build.
"""

from typing import Any, Literal, NotRequired, TypedDict

# the closed vocabularies of bench-compare, shared by the code that decides them
Assumption = Literal["nothing", "exact", "normal"]
VerdictKind = Literal["regression", "improvement", "unchanged"]
GateKind = Literal["regression", "change"]
Correction = Literal["none", "holm"]


class BenchPointJson(TypedDict):
    """One recorded commit: the median of its values and the median's 95 % confidence interval
    (null when too few values).
    """

    run_id: int
    commit: str
    branch: str
    time_ns: int
    median: float
    n: int
    lo: float | None
    hi: float | None


class BenchChangeJson(TypedDict):
    """A change point (as perflab bench regressions reports it): `index` is the first commit of the
    new level in `points`.
    """

    bench: str
    unit: str
    verdict: Literal["regression", "improvement"]
    index: int
    from_commit: str
    to_commit: str
    from_run_id: int
    to_run_id: int
    time_ns: int
    rel_change: float
    magnitude: float
    pvalue: float
    mean_before: float
    mean_after: float


class BenchCompareCellComparison(TypedDict):
    p: float
    alpha: float
    n_base: int
    delta: str
    ratio: float | None
    significant: bool
    verdict: VerdictKind
    warnings: list[str]


class BenchCompareCell(TypedDict):
    column: str
    n: int
    center: float | None
    lo: float | None
    hi: float | None
    range: str
    confidence: float
    warnings: list[str]
    comparison: NotRequired[BenchCompareCellComparison]


class BenchCompareRow(TypedDict):
    name: str
    cells: list[BenchCompareCell]


class BenchCompareGeomean(TypedDict):
    column: str
    center: float | None
    ratio: float | None
    warnings: list[str]


class BenchCompareTable(TypedDict):
    config: dict[str, str]
    unit: str
    assume: Assumption
    columns: list[str]
    rows: list[BenchCompareRow]
    geomean: list[BenchCompareGeomean]


class BenchCompareGate(TypedDict):
    text: str
    kind: GateKind
    threshold_pct: float
    correction: Correction
    alpha: float
    tripped: list[str]


class BenchCompareDoc(TypedDict):
    """Comparison tables as benchstat builds them: one table per configuration and unit; rows are
    benchmarks, columns the compared inputs; cells after the first are compared with the first.
    """

    schema: Literal["perflab.bench-compare/1"]
    tables: list[BenchCompareTable]
    gate: BenchCompareGate | None
    problems: list[str]


class BenchHistoryPoint(TypedDict):
    commit: str
    branch: str
    time_ns: int
    median: float
    n: int
    run_id: int


class BenchHistoryBenchmark(TypedDict):
    name: str
    unit: str
    points: list[BenchHistoryPoint]


class BenchHistoryDoc(TypedDict):
    """perflab bench history --json"""

    schema: Literal["perflab.bench-history/1"]
    benchmarks: list[BenchHistoryBenchmark]


class BenchRecordDoc(TypedDict):
    """perflab bench record --json"""

    schema: Literal["perflab.bench-record/1"]
    run_id: int
    commit: str
    branch: str
    benchmarks: int
    values: int


class BenchRegressionsChange(TypedDict):
    bench: str
    unit: str
    verdict: Literal["regression", "improvement"]
    from_commit: str
    to_commit: str
    index: int
    rel_change: float
    magnitude: float
    pvalue: float
    mean_before: float
    mean_after: float


class BenchRegressionsDoc(TypedDict):
    """perflab bench regressions --json"""

    schema: Literal["perflab.bench-regressions/1"]
    changes: list[BenchRegressionsChange]
    notes: list[str]


class BenchResultsBenchmark(TypedDict):
    name: str
    unit: str
    values: list[float]
    loops: NotRequired[int]
    warnings: NotRequired[list[str]]
    # bench cmd's own measurements of each run, beside the compared values
    user_s: NotRequired[list[float]]
    sys_s: NotRequired[list[float]]
    exit_codes: NotRequired[list[int]]


class BenchResultsDoc(TypedDict):
    """perflab benchmark results (input of bench compare/record, output of bench run/cmd --json)"""

    schema: Literal["perflab.bench-results/1"]
    metadata: NotRequired[dict[str, Any]]
    benchmarks: list[BenchResultsBenchmark]


class BenchSystemFinding(TypedDict):
    check: str
    level: Literal["ok", "warn", "info"]
    seen: str
    why: str
    fix: str


class BenchSystemDoc(TypedDict):
    """perflab bench system --json"""

    schema: Literal["perflab.bench-system/1"]
    findings: list[BenchSystemFinding]


class DiskClatDoc(TypedDict):
    """Completion latency in nanoseconds, as fio's ``clat_ns`` (percentile keys like
    ``"99.900000"``)."""

    min: int
    max: int
    mean: float
    stddev: float
    percentile: dict[str, int]


class DiskSideDoc(TypedDict):
    """Reads or writes of a disk job, with fio's names."""

    ios: int
    io_bytes: int
    iops: float
    bw_bytes: float
    clat_ns: DiskClatDoc


class DiskJobDoc(TypedDict):
    directory: str
    rw: Literal["read", "write", "randread", "randwrite", "randrw"]
    bs: int
    iodepth: int
    size: int
    runtime_s: float
    direct: bool
    rwmixread: int
    ioengine: Literal["psync-threads"]


class BenchDiskDoc(TypedDict):
    """``perflab bench disk --json``: fio-style figures for one job; ``read``/``write`` null
    for a side the job does not do."""

    schema: Literal["perflab.bench-disk/1"]
    job: DiskJobDoc
    direct_io: bool
    elapsed_s: float
    interrupted: bool
    warnings: list[str]
    read: DiskSideDoc | None
    write: DiskSideDoc | None
