"""Tests of the pure builders: golden children, real schemas, one module per builder."""
