"""``python -m console.repl``: the same as ``gate-repl``."""

from console.repl.main import main

raise SystemExit(main())
