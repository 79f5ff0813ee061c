"""The NoETL worker-pool operator: reconciles NoetlWorkerPool resources with kopf."""

__version__ = "0.1.0"
