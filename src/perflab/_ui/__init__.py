"""What the dashboard (``perflab.web``) and the HTML report (``perflab.report``) both show.

The charts script (``static/perflab.js`` over the vendored uPlot), its stylesheet, the load
charts, the templates both render (the run's header, its events, the load section), the jinja
filters those templates use, and the one way to embed data in a page: ``script_json``.

This package imports neither ``web`` nor ``report``: both import it.

Public names: ``STATIC`` and ``TEMPLATES`` (directories), ``asset`` (a static file's text, to
inline in a page), ``script_json`` (JSON for a ``<script type="application/json">`` element),
``template_filters`` (the jinja filters of the shared templates).
"""

from perflab._ui._assets import STATIC, TEMPLATES, asset, template_filters
from perflab._ui._json import script_json

__all__ = ["STATIC", "TEMPLATES", "asset", "script_json", "template_filters"]
