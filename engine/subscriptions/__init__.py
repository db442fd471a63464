"""Selectors, transient observers and persistent subscriptions (docs/ARCHITECTURE.md)."""
