"""TypedDicts of the fault proxy's API answers (docs/schemas/toxiproxy-*.schema.json)."""

from typing import Literal, NotRequired, TypedDict

ToxicType = Literal["latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer",
                    "limit_data", "http_error"]


class ToxicDoc(TypedDict):
    """One toxic, as Toxiproxy 2.x answers it; ``duration`` is perflab's addition."""

    attributes: dict[str, int | str]
    name: str
    type: ToxicType
    stream: Literal["upstream", "downstream"]
    toxicity: float
    duration: NotRequired[str]


class ProxyDoc(TypedDict):
    """One proxy; ``listen`` is the bound address."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: list[ToxicDoc]


class ApiErrorDoc(TypedDict):
    """An error answer: Toxiproxy's message and status, and perflab's hint."""

    error: str
    status: int
    hint: NotRequired[str]


class PopulateDoc(TypedDict):
    """POST /populate's answer."""

    error: NotRequired[str]
    status: NotRequired[int]
    hint: NotRequired[str]
    proxies: list[ProxyDoc] | None


class VersionDoc(TypedDict):
    version: str
    perflab: str


ToxicsDoc = list[ToxicDoc]
ProxiesDoc = dict[str, ProxyDoc]
