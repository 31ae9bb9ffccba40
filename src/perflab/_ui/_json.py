"""Data for a page, as JSON inside a ``<script type="application/json">`` element.

The HTML parser reads a script element's text in its own states: ``</script`` ends it, and
``<!--`` followed by ``<script`` switches to the "double-escaped" state, in which the element's
own ``</script>`` no longer ends it and the rest of the page is swallowed (a process may name
itself ``<!--<script>``). So no ``<`` may reach the page as itself. ``>`` and ``&`` are escaped
too (a string that is inert in every HTML context), and U+2028/U+2029, which ended a line in
JavaScript string literals before ES2019 (the JSON may be pasted into a script). Every escape is
a JSON string escape: ``JSON.parse`` gives back the very same text.
"""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
            0x2028: "\\u2028", 0x2029: "\\u2029"}


def script_json(data: Any) -> Markup:
    """``data`` as JSON that is safe as the text of a ``<script type="application/json">``.

    NaN and infinity are refused (``JSON.parse`` would refuse them in the browser)."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return Markup(text.translate(_ESCAPES))  # noqa: S704  # no "<", ">" or "&" left in it
