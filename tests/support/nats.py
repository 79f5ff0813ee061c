"""Re-export of the product's nats-server launcher for tests (one launcher for dev mode, tests and bench)."""

from noetl_standin.natsserver import NatsServer, free_port, running_nats_server

__all__ = ["NatsServer", "free_port", "running_nats_server"]
