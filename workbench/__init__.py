"""The framework-neutral workbench, one sub-package per concern. It never imports a framework.

    run/     one row in a child process: driver (timing), child, runner (executors), result, resume, hardware
    check/   numerical equivalence against the NumPy reference, and its tables
    teach/   --explain: the adapters' own code, model summaries, differing defaults
    report/  result tables, learning-curve plots, the Markdown report
"""
