"""What the benchmark scripts share: percentiles, machine facts, result records, drivers, clusters.

Scripts import this package, never each other; tests may import it, it never imports tests.
"""
