"""The hub in-process for unit tests: Starlette's TestClient and a hub to open with it."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

BASE_URL = "http://127.0.0.1:8600"  # a Host the hub serves (it refuses others: DNS rebinding)


def client_class() -> Any:
    """starlette.testclient.TestClient, imported without its warning: it prefers httpx2 as
    its backend, and httpx is what we have and what it still supports. Its requests go to
    ``BASE_URL`` unless told otherwise (TestClient's own default, ``testserver``, is a name the
    hub does not serve)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient  # noqa: PLC0415  # under the filter

    class LoopbackClient(TestClient):
        def __init__(self, app: Any, base_url: str = BASE_URL, **kwargs: Any) -> None:
            super().__init__(app, base_url=base_url, **kwargs)

        def websocket_connect(self, url: str, *args: Any, **kwargs: Any) -> Any:
            if url.startswith("/"):
                url = "ws" + str(self.base_url).removeprefix("http").rstrip("/") + url
            return super().websocket_connect(url, *args, **kwargs)

    return LoopbackClient


def hub_client(store_path: Path, **config: Any) -> Any:
    """The hub in-process on the store at ``store_path``, not recording: a TestClient to enter
    (``with hub_client(path) as client``); ``config`` sets or overrides ``AppConfig``'s fields."""
    from perflab.web import AppConfig, create_app  # noqa: PLC0415  # as client_class: lazily

    return client_class()(create_app(AppConfig(**{"store_path": store_path, "record": False,
                                                  **config})))
