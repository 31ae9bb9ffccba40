"""The demo: a service with planted problems, and the orchestration behind ``perflab demo``.

Public names are added as the pieces land; the service runs as ``python -m perflab.demo.service``.
"""
