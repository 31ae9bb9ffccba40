"""What an import reads from recorded traffic, whatever its source, and the mix it makes.

Each reader (access log, HAR, JMeter plan, traces) turns its input into ``Traffic``: the
requests it saw (``Observed``), in order, and what it could not map (``Unmapped``, listed by
the command, never dropped in silence). ``mix`` groups requests by endpoint: the method and the
path template, where numeric ids, UUIDs and long hex ids are collapsed, so that
``/users/17`` and ``/users/42`` are one endpoint and their share of the traffic is theirs
together.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

# segments standing for one object among many: collapsed to a placeholder in templates
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}")
_NUMBER = re.compile(r"-?\d+")
_HEX_ID = re.compile(r"[0-9a-fA-F]{16,}")  # object ids, digests: long and hexadecimal
_VARIABLE = re.compile(r"\$\{(\w+)\}")  # JMeter's ${name}: one value of many
_MAX_PATH = 2000  # characters of a path kept (a log line may carry anything)


def path_template(path: str) -> str:
    """The endpoint a request path belongs to: the query dropped, ids collapsed.

    ``/users/17/orders/5b1e...`` -> ``/users/{id}/orders/{uuid}``; JMeter's ``/users/${id}``
    -> ``/users/{id}``. A path that is already a template (``/users/{id}``) is kept."""
    path = path.split("?", 1)[0].split("#", 1)[0][:_MAX_PATH] or "/"
    parts = []
    for seg in path.split("/"):  # cheap tests first: this runs for every request of a log
        n = len(seg)
        if n == 36 and _UUID.fullmatch(seg):  # a UUID's length
            parts.append("{uuid}")
        elif (seg.isascii() and seg.isdigit()) or (n >= 16 and _HEX_ID.fullmatch(seg)) \
                or (seg[:1] == "-" and _NUMBER.fullmatch(seg)):
            parts.append("{id}")
        elif "${" in seg and (m := _VARIABLE.fullmatch(seg)):
            parts.append("{" + m[1] + "}")
        else:
            parts.append(seg)
    return "/".join(parts)


def is_placeholder(segment: str) -> bool:
    return len(segment) > 2 and segment[0] == "{" and segment[-1] == "}"


def endpoint_matches(a: str, b: str) -> bool:
    """Whether two endpoints are the same one: the same method and path segments, where a
    placeholder (``{id}``, ``{user}``) on either side stands for any one segment."""
    method_a, _, path_a = a.partition(" ")
    method_b, _, path_b = b.partition(" ")
    segs_a, segs_b = path_a.split("/"), path_b.split("/")
    return method_a == method_b and len(segs_a) == len(segs_b) and all(
        x == y or is_placeholder(x) or is_placeholder(y) for x, y in zip(segs_a, segs_b,
                                                                           strict=True))


def endpoint_key(method: str, path: str) -> str:
    """``"GET /users/{id}"``: how an endpoint is named in scenarios, summaries and coverage."""
    return f"{method.upper()} {path_template(path)}"


@dataclass(frozen=True, slots=True)
class Observed:
    """One recorded request. ``at_s``: seconds since the epoch when the source has times;
    ``body``: the request body when the source has it, else ``body_bytes`` is its size (0
    when unknown); ``response_bytes``: the answer's size when recorded."""

    method: str
    path: str  # with its query, as requested
    at_s: float | None = None
    body: bytes | None = None
    body_bytes: int = 0
    response_bytes: int | None = None
    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    weight: int = 1  # a JMeter sampler stands for its thread group's iterations
    route: str | None = None  # the server's own template (a span's http.route)

    @property
    def endpoint(self) -> str:
        return endpoint_key(self.method, self.route or self.path)


@dataclass(frozen=True, slots=True)
class Unmapped:
    """Something of the input the scenario does not reproduce, and why."""

    where: str  # "line 7", "entries[3]", "ThreadGroup 'users' > SetupThreadGroup"
    element: str
    reason: str


@dataclass(frozen=True, slots=True)
class Check:
    """A check on a response: its name and a Python expression over ``r`` (the Response)."""

    name: str
    expression: str


@dataclass(frozen=True, slots=True)
class Step:
    """One request of a flow, the pause before it and the checks on its answer."""

    request: Observed
    sleep_s: tuple[float, float] = (0.0, 0.0)  # uniform between the two (equal: constant)
    checks: tuple[Check, ...] = ()
    feeder: str | None = None  # a CSV feeder whose row fills ${name} in path and body


@dataclass(frozen=True, slots=True)
class Feed:
    """A CSV file whose rows fill variables (JMeter's CSV Data Set)."""

    name: str  # a Python identifier
    file: str
    delimiter: str = ","


@dataclass(frozen=True, slots=True)
class Flow:
    """Virtual users repeating a sequence of requests (closed model): a JMeter thread group."""

    name: str
    users: int
    steps: tuple[Step, ...]
    feeds: tuple[Feed, ...] = ()


@dataclass(slots=True)
class Traffic:
    """What one reader made of its input."""

    source: Literal["access-log", "har", "jmx", "traces"]
    path: str
    format: str  # "combined", "common", "har-1.2", "jmx", "otlp-spans"
    requests: list[Observed] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)
    base_url: str | None = None
    rate: float | None = None  # arrivals per second when the source prescribes them
    flows: list[Flow] = field(default_factory=list)  # JMeter's thread groups, in order
    run_args: list[str] = field(default_factory=list)  # what `perflab load run` needs besides

    def span_s(self) -> float | None:
        """Seconds from the first request to the last, at the source's resolution (an access
        log's times are whole seconds: a log of one second spans one second, not zero)."""
        times = [r.at_s for r in self.requests if r.at_s is not None]
        if len(times) < 2:  # a span needs two ends
            return None
        span = max(times) - min(times)
        if all(t == int(t) for t in times):
            span += 1.0
        return span if span > 0 else None

    def arrival_rate(self) -> float | None:
        """Requests per second over the recording, when it has times."""
        if self.rate is not None:
            return self.rate
        span = self.span_s()
        return None if span is None else sum(r.weight for r in self.requests) / span


@dataclass(frozen=True, slots=True)
class EndpointMix:
    """One endpoint's share of the traffic."""

    endpoint: str
    method: str
    template: str
    requests: int
    share: float  # 0-1 of all requests
    paths: tuple[str, ...]  # the most requested concrete paths, most frequent first
    body_bytes_mean: float
    body_bytes_max: int
    response_bytes_mean: float | None
    statuses: dict[str, int]
    sample: Observed  # one request of it (its body and headers are what a scenario sends)


MAX_PATHS = 20  # concrete paths kept per endpoint


def mix(requests: list[Observed]) -> list[EndpointMix]:
    """The endpoints, most requested first (ties by name, so the output is stable)."""
    groups: dict[str, list[Observed]] = {}
    for r in requests:
        groups.setdefault(r.endpoint, []).append(r)
    total = sum(r.weight for r in requests) or 1
    out = []
    for key, reqs in groups.items():
        count = sum(r.weight for r in reqs)
        method, _, template = key.partition(" ")
        paths = Counter(r.path[:_MAX_PATH] for r in reqs)
        sizes = [len(r.body) if r.body is not None else r.body_bytes for r in reqs]
        answers = [r.response_bytes for r in reqs if r.response_bytes is not None]
        statuses = Counter(str(r.status) for r in reqs if r.status is not None)
        with_body = [r for r in reqs if r.body]
        out.append(EndpointMix(
            endpoint=key, method=method, template=template, requests=count,
            share=count / total,
            paths=tuple(p for p, _ in sorted(paths.items(), key=lambda kv: (-kv[1], kv[0]))
                        [:MAX_PATHS]),
            body_bytes_mean=sum(sizes) / len(sizes), body_bytes_max=max(sizes),
            response_bytes_mean=sum(answers) / len(answers) if answers else None,
            statuses=dict(sorted(statuses.items())),
            sample=with_body[0] if with_body else reqs[0]))
    out.sort(key=lambda m: (-m.requests, m.endpoint))
    return out
