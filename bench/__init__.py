"""Gate's benchmarks: scripts run as ``python -m bench.<script>``, shared code in ``bench.lib``."""
