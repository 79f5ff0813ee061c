"""The worker process: lifecycle and drain (``worker``), the ack policy (``dispatcher``), registry presence
(``registration``), metrics, health endpoints, lag gauges and the memory of recently finished commands."""
