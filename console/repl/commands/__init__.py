"""The menu's commands, one module per section; each takes the shell's ``Context``."""
