"""The console's operations layer: everything both front ends do, with no front-end code.

``gate-repl`` (prompt-toolkit) and ``gate-console`` (Textual) drive the same objects:
:class:`~console.ops.operations.Operations` bundles the engine session, the observer
registry, the producers, the persistent subscriptions, stream browsing and the cluster view.
The engine is reached only through ``engine.client``.
"""
