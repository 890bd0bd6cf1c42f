"""Framework-neutral task definitions: specs, data, canonical weights and the NumPy reference."""
