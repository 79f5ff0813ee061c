"""HTTP routes of the stand-in: the NoETL API under ``/api`` and the stand-in's own ``/_standin``."""
