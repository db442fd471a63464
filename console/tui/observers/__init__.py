"""The observers panel."""
