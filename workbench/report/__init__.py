"""Rendering results: tables, learning curves, the Markdown report."""
