"""The subscriptions panel."""
