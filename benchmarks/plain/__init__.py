"""Idiomatic plain training scripts, one per (task, framework), for the overhead benchmark.

Each script is standalone on purpose: it is the code a user of that framework would write for
the task, so their training loops repeat one another. Only flag parsing, loading the arrays and
printing the result are shared (common.py).
"""
