"""Checks that can fail: numerical equivalence of every adapter against the NumPy reference."""
