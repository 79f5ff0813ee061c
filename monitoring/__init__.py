"""The pool's alerts and Grafana dashboard, defined once here and rendered into ``deploy/monitoring/``.

``python -m monitoring.generate`` writes the plain Prometheus rules file, the ``PrometheusRule``, the
dashboard JSON and its ConfigMap from :mod:`monitoring.definitions`; ``--check`` fails when they are stale.
The monitoring test tier renders the same rules with shorter durations for a real Prometheus.
"""
