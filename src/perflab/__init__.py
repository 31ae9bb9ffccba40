"""perflab: a production performance lab for services.

The public API is small and lazy: importing ``perflab`` imports nothing heavy.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
