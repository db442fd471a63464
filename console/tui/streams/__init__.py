"""The streams browser: streams, their events page by page, greenhouses and snapshots."""
