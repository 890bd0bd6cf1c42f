"""ONNX Runtime for the adapters that export ONNX: a session on the row's threads, as a predict function.

The adapters differ only in what their ONNX graph takes (NCHW or NHWC images, int64 or int32 ids):
each passes its own `to_inputs`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def predictor(path: str, threads: int, to_inputs: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """predict(X) -> logits from `onnxruntime.InferenceSession` on the CPU, with `threads` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1  # the same threads as every row
    options.log_severity_level = 3  # errors only: its warnings would interleave with the tables on stderr
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    [graph_input] = session.get_inputs()
    return lambda X: session.run(None, {graph_input.name: to_inputs(X)})[0]
