"""Tool kinds: one module per kind, looked up through the registry in :mod:`noetl_worker.tools.registry`."""
