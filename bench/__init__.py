"""Benchmarks of the NoETL worker pool: ``python -m bench worker|operator|all``.

The worker benchmark holds every implementation against the *bare loop* (``bench.bareloop``), the least code
that performs the same I/O per command, measured in the same run on the same machine: these machines are
shared and noisy, so ratios are what count. See ``docs/performance.md`` for the figures and the exact commands.
"""
