"""The producers panel."""
