"""The worker's side of the control-plane HTTP API: one pooled client (``client``) and retry timing (``retry``)."""
