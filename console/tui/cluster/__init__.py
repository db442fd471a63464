"""The cluster panel: node health, fault injection and the failover timeline."""
