"""Framework adapters: one module per framework, same public names in the same order."""
