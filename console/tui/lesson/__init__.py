"""Lessons played inside the dashboard (``gate-console --lesson FILE``)."""
