"""The framework-neutral workbench, one sub-package per concern. It never imports a framework.

Layers, lowest first (tests/test_imports.py checks them: no cycle, no upward import):
    errors.py, options.py, process/   exception types and exit codes; Options (one field per flag, and the glossary);
                                      child processes, one-line errors, environment, timing, files
    run/       one row in a child process: request (the resolved spec), driver (timing), child, executors, results
    check/     numerical equivalence against the NumPy reference, and its tables
    teach/     --explain: the adapters' own code, model summaries, differing defaults
    deploy/    export, reload checks, --verify-export (the row's export step reaches run/ as a function)
    report/    result tables, learning-curve plots, the Markdown report
    plan.py    Options -> checked Options -> RunPlan (the spec and the device resolved once)
    api.py     the library's front: compare(), explain(), check(), verify() with keyword arguments
"""
