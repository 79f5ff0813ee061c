"""A contract-faithful stand-in for the NoETL control plane (tests, benchmarks, `noetl-worker dev`).

Where things are (see docs/control-plane.md for behaviour):

- ``settings`` — ``StandinSettings`` (``NOETL_STANDIN_*``); ``cli`` — ``noetl-standin``;
  ``server`` — ``StandinServer`` (in-process); ``admin`` — ``StandinAdmin`` (typed client of ``/_standin``).
- ``app`` — the ASGI app and its middleware; ``api/`` — one module per group of routes.
- ``core`` — ``ControlPlane``, the state and services behind the routes.
- ``store`` — the ``Store`` protocol; ``memory`` — ``MemoryStore``; ``records`` — the rows.
- ``claims`` — the lease rules; ``projection`` — events → command status; ``engine`` + ``jobs`` — jobs
  with dependencies; ``externalize`` — large context fields as result references.
- ``publisher`` — JetStream pointers; ``recovery`` — re-publication and the reaper.
- ``faults`` — fault injection; ``counters`` — read-outs; ``natsserver`` — the nats-server launcher.

Importing this package is cheap (``natsserver`` is used by test fixtures that need nothing else).
"""

__version__ = "0.1.0"
