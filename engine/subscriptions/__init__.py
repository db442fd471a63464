"""Subscriptions: selectors, transient observers and persistent subscriptions (ARCHITECTURE.md)."""
