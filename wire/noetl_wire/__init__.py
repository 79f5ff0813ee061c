"""The NoETL control-plane wire contract shared by the worker and the stand-in control plane."""

__version__ = "0.1.0"
