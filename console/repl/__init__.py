"""``gate-repl``: the classic 15-option menu shell, on the shared operations layer."""
