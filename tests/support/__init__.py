"""Launchers for the real servers the test suite runs against (no mocks of things we can run)."""
