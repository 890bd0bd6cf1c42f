"""Running adapters in child processes, timing them, and rendering the results."""
