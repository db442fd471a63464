"""``gate-console``: the Textual dashboard over the console's operations layer (docs/CONSOLE.md)."""
