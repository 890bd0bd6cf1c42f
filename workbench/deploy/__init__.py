"""Deployment: save, export and reload every trained model (`compare.py --export DIR`, `--import-weights FILE`).

Framework-neutral: which artifacts a row writes, the weights file, the reload checks in a fresh process
and the export table. What each artifact is and how it is written and read lives in the adapters
(`EXPORTS`, `export`, `load` in frameworks/<name>.py).
"""
