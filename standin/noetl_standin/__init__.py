"""A contract-faithful stand-in for the NoETL control plane (tests, benchmarks, `noetl-worker dev`)."""

__version__ = "0.1.0"
