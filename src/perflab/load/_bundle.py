"""A scenario file and its data as bytes, to travel with a distributed test's tasks.

A Dask worker on another machine has none of the user's files: the scenario file and what it
reads beside it (``csv_feeder("users.csv")`` is relative to the scenario file) go with each
task as bytes, and are written into a temporary directory there. What goes is the scenario's
directory, recursively, without hidden entries and ``__pycache__``; it is bounded, so that a
scenario kept in a home directory is refused with advice rather than shipping the home.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from perflab.errors import InvalidFile

MAX_BUNDLE_BYTES = 64 * 1024 * 1024
MAX_BUNDLE_FILES = 1000


@dataclass(frozen=True, slots=True)
class Bundle:
    """Files by their path relative to the scenario's directory; ``main`` is the scenario."""

    main: str
    files: tuple[tuple[str, bytes], ...]

    def unpack(self, into: Path) -> Path:
        """Write the files under ``into``; the path of the scenario file there."""
        root = into.resolve()
        for rel, data in self.files:
            dest = (root / rel).resolve()
            if not dest.is_relative_to(root):  # a bundle names paths below its root only
                msg = f"a bundle path leaves its directory: {rel!r}"
                raise ValueError(msg)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        return root / self.main


def pack_scenario(path: str) -> Bundle:
    """The scenario file ``path`` and the files of its directory, as a ``Bundle``."""
    scenario = Path(path).resolve()
    root = scenario.parent
    files: list[tuple[str, bytes]] = []
    size = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if not d.startswith(".") and d != "__pycache__")
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            p = Path(dirpath) / name
            if not p.is_file():
                continue
            try:
                data = p.read_bytes()
            except OSError as exc:
                raise InvalidFile(f"cannot read {p} to send it with the tasks: {exc.strerror}",
                                  path=path) from exc
            size += len(data)
            files.append((str(p.relative_to(root)), data))
            if size > MAX_BUNDLE_BYTES or len(files) > MAX_BUNDLE_FILES:
                raise InvalidFile(
                    f"its directory {root} holds more than {MAX_BUNDLE_BYTES >> 20} MiB or "
                    f"{MAX_BUNDLE_FILES} files, which would be sent to every Dask worker",
                    path=path,
                    hint="put the scenario and the data it reads in a directory of their own")
    return Bundle(str(scenario.relative_to(root)), tuple(files))
