"""What every process of Gate agrees on: error codes, commands, selectors, subscription
definitions, the node TCP framing and the consume protocol.  Imports nothing else of the engine,
so every tier may import it (docs/ARCHITECTURE.md, "Layers")."""
