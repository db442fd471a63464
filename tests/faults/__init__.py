"""Process fault tests: a workload, a nemesis that kills real node processes, a checker."""
