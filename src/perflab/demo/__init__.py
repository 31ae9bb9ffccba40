"""The demo: a service with planted problems, and the orchestration behind ``perflab demo``.

Modules (this package imports none of them, so the service starts light — without numpy):

- ``perflab.demo.service`` — the demo service, ``python -m perflab.demo.service``;
- ``perflab.demo.orchestrate`` — ``Demo``, ``DemoOptions``, ``DemoResult``: one demo run.
"""
