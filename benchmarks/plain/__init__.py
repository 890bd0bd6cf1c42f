"""Idiomatic plain training scripts, one per (task, framework), for the overhead benchmark."""
