"""The live event feed: observer and consumer lines, coloured by event type, with a filter."""
