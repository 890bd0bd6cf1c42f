"""The plumbing every concern of the workbench uses: child processes, one-line errors, environment, timing.

    env        the environment of a child process (threads for every runtime, PYTHONPATH)
    lines      a failure as one line, and its typed kind
    ask        ask one framework's adapter a question in a fresh process (the caller passes the function)
    timing     batch-1 latency and the constants of every timed prediction
    adapters   facts read off an adapter module (precision support, determinism, the device a row runs on)
    files      atomic writes and strict JSON

It imports tasks/ and frameworks/ only, never a workbench concern above it (run, check, teach, deploy, report).
"""
