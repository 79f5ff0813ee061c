"""End-to-end validation of the worker pool on a real cluster (kind, any cluster, or the envtest backend)."""
