"""The dialogs of the create actions, and the help screen's neighbours."""
