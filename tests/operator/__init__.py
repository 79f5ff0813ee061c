"""Tests of the NoetlWorkerPool operator (mirrors operator/noetl_operator)."""
