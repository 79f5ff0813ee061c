"""The NoETL worker pool: a stateless compute block pulling commands from NATS JetStream."""

__version__ = "0.1.0"
