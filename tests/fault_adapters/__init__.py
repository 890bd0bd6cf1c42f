"""Adapters that fail on purpose, loaded into child processes through FRAMEBENCH_EXTRA_FRAMEWORKS.

tests/test_faults.py puts tests/ on PYTHONPATH and registers them, e.g.
FRAMEBENCH_EXTRA_FRAMEWORKS="boom=fault_adapters.raises_in_build"; production code holds no test hooks.
"""
