"""Scenario files: Python, in the style Locust and k6 users know.

    from perflab.load import Scenario, Session, csv_feeder

    users = csv_feeder("users.csv")            # rows as dicts, relative to this file
    thresholds = ["p99<200ms", "error_rate<1%"]

    shop = Scenario("shop", base_url="http://127.0.0.1:8080", connections=10,
                    think_time="100ms")          # closed model
    api = Scenario("api", base_url="http://127.0.0.1:8080", rate=200)  # open model

    @shop.task(weight=3)
    async def browse(s: Session) -> None:
        r = await s.get("/items", name="items")
        s.check("items listed", r.status == 200)
        first = r.json()["items"][0]           # a value from one response ...
        await s.get(f"/items/{first}", name="item")   # ... used in the next

    @api.task()
    async def login(s: Session) -> None:
        user = users.next()
        r = await s.post("/login", json={"user": user["name"]})
        await s.get("/me", headers={"Authorization": f"Bearer {r.json()['token']}"})

Every ``Scenario`` defined at the top level of the file takes part, each with its own model.
A task is one iteration; tasks are chosen by weight. A request that fails on the network
(refused, reset, timeout) is counted as an error and ends that iteration quietly; any other
exception is the scenario's own bug: the test stops and its traceback is shown (exit 2).
"""

from __future__ import annotations

import csv
import importlib.util
import json as jsonlib
import sys
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perflab.errors import InvalidFile, UsageError
from perflab.units import parse_duration, parse_rate

TaskFn = Callable[["Session"], Awaitable[None]]

# (worker index, worker count) of the process importing a scenario file; feeders read it so
# that workers walk different rows
_WORKER_SLOT = [0, 1]


class ScenarioError(UsageError):
    """A scenario file that cannot be loaded; the message holds the user's traceback."""

    def __init__(self, message: str, user_traceback: str) -> None:
        super().__init__(message, hint="fix the scenario file and run again")
        self.user_traceback = user_traceback


class RequestFailed(Exception):  # reads as what happened, like ConnectionReset
    """A request failed on the network; counted as an error, it ends the iteration quietly."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_ms: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    @property
    def ok(self) -> bool:
        return self.status < 400


class Session:
    """What a task receives: requests on one connection, checks, think time.

    Implemented by the engine; this is the interface scenario files are written against.
    """

    async def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                      body: bytes | str | None = None, json: Any = None,
                      name: str | None = None) -> Response:
        raise NotImplementedError

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Response:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> Response:
        return await self.request("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> Response:
        return await self.request("DELETE", path, **kw)

    async def head(self, path: str, **kw: Any) -> Response:
        """The headers only: ``body`` is empty whatever Content-Length says."""
        return await self.request("HEAD", path, **kw)

    def check(self, name: str, condition: bool) -> bool:  # k6's check(name, cond)
        raise NotImplementedError

    async def sleep(self, seconds: float | str) -> None:
        raise NotImplementedError


@dataclass(slots=True)
class Task:
    fn: TaskFn
    weight: int
    name: str


@dataclass(slots=True)
class Scenario:
    """One workload of a test: its own target, model and tasks."""

    name: str
    base_url: str | None = None
    connections: int | None = None     # closed model (default: -c)
    rate: float | str | None = None    # open model: arrivals per second
    stages: str | None = None          # open model, ramping: "30s:100,1m:2000"
    think_time: float | str = 0.0
    max_connections: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    tasks: list[Task] = field(default_factory=list)

    def task(self, weight: int = 1, name: str | None = None) -> Callable[[TaskFn], TaskFn]:
        """Decorator: register an async function ``(session) -> None`` as a task."""
        if weight < 1:
            raise ValueError("a task's weight must be at least 1")

        def register(fn: TaskFn) -> TaskFn:
            self.tasks.append(Task(fn, weight, name or fn.__name__))
            return fn

        return register

    @property
    def think_time_s(self) -> float:
        t = self.think_time
        return parse_duration(t) if isinstance(t, str) else float(t)

    @property
    def rate_per_s(self) -> float | None:
        if self.rate is None:
            return None
        return parse_rate(self.rate) if isinstance(self.rate, str) else float(self.rate)

    @property
    def open_model(self) -> bool:
        return self.rate is not None or self.stages is not None


class Feeder:
    """Rows of a CSV file as dicts, handed out in turn (each worker walks its own rows)."""

    def __init__(self, rows: list[dict[str, str]], path: str) -> None:
        if not rows:
            raise ValueError(f"{path}: the CSV file has no data rows")
        self.rows = rows
        self.path = path
        self._i = 0

    def next(self) -> dict[str, str]:
        index, n = _WORKER_SLOT
        row = self.rows[(self._i * n + index) % len(self.rows)]
        self._i += 1
        return row

    def __len__(self) -> int:
        return len(self.rows)


def csv_feeder(path: str, *, delimiter: str = ",") -> Feeder:
    """Read a CSV file with a header line; ``path`` is relative to the calling scenario file."""
    p = Path(path)
    if not p.is_absolute():
        caller = sys._getframe(1).f_globals.get("__file__")  # noqa: SLF001  # the scenario file
        if caller:
            p = Path(caller).parent / p
    with p.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter=delimiter))
    return Feeder(rows, str(p))


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    path: str
    scenarios: list[Scenario]
    thresholds: list[str]

    @property
    def base_url(self) -> str | None:
        return next((s.base_url for s in self.scenarios if s.base_url), None)


def open_rate_scale(scenarios: list[Scenario], total: float | None) -> float:
    """The factor that brings the constant-rate scenarios' rates to ``total`` arrivals/s
    together, keeping their proportions (1 without a total)."""
    rates = [sc.rate_per_s for sc in scenarios if not sc.stages]
    base = sum(r for r in rates if r is not None)
    return 1.0 if total is None or base <= 0 else total / base


def rate_driven(spec: ScenarioSpec) -> None:
    """Refuse a scenario file whose load one arrival rate cannot drive (the capacity
    search scales every scenario's ``rate=``): closed or staged scenarios."""
    for sc in spec.scenarios:
        if sc.stages is not None or sc.rate is None:
            model = "stages=" if sc.stages is not None else "a closed model (connections=)"
            raise InvalidFile(
                f"scenario {sc.name!r} has {model}: the capacity search drives open "
                "scenarios at a constant rate", path=spec.path,
                hint=f"give {sc.name} a rate= (e.g. rate=10): the search scales every "
                     "scenario's rate, keeping their proportions")


def user_traceback(exc: BaseException, path: str) -> str:
    """The traceback from the scenario file's frames down: the user's code, not ours."""
    tb = traceback.TracebackException.from_exception(exc)
    frames = [f for f in tb.stack if f.filename == path]
    if frames:
        tb.stack = traceback.StackSummary.from_list(
            tb.stack[tb.stack.index(frames[0]):])
    return "".join(tb.format())


def load_scenario_file(path: str, *, worker: tuple[int, int] = (0, 1)) -> ScenarioSpec:
    p = Path(path).resolve()
    if not p.is_file():
        raise InvalidFile("no such scenario file", path=path,
                          hint="give the path of a Python file defining Scenario objects")
    _WORKER_SLOT[:] = list(worker)
    mod_name = f"perflab_scenario_{abs(hash(str(p)))}"
    spec = importlib.util.spec_from_file_location(mod_name, p)
    if spec is None or spec.loader is None:
        raise InvalidFile("cannot be imported as Python", path=path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        text = user_traceback(exc, str(p))
        raise ScenarioError(f"the scenario file {path} raised while loading:\n{text}",
                            text) from None
    scenarios = [v for v in vars(module).values() if isinstance(v, Scenario)]
    if not scenarios:
        raise InvalidFile("defines no Scenario", path=path,
                          hint="define one: shop = Scenario('shop', base_url=...) and "
                               "decorate async functions with @shop.task()")
    for sc in scenarios:
        if not sc.tasks:
            raise InvalidFile(f"scenario {sc.name!r} has no tasks", path=path,
                              hint=f"decorate an async function with @{sc.name}.task()")
    thresholds = list(getattr(module, "thresholds", []) or [])
    return ScenarioSpec(str(p), scenarios, [str(t) for t in thresholds])
