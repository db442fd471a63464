"""The Messages panel: the cluster's Raft messages as a live sequence diagram."""
