"""The dashboard's live charts: a history of what the app already reads, and its drawings."""
