"""TensorFlow's start-up lines kept off stderr, for the Keras engines (TensorFlow's, and Keras' seeding on any backend).

TF_CPP_MIN_LOG_LEVEL does not silence the lines TensorFlow's C++ code prints before its logging starts: file
descriptor 2 goes to a log file while TensorFlow is imported (or first started).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Iterator

TENSORFLOW_LOG = os.path.join(tempfile.gettempdir(), "framebench-tensorflow.log")  # where those lines go


@contextlib.contextmanager
def native_stderr_to(path: str = TENSORFLOW_LOG) -> Iterator[None]:
    """Send file descriptor 2 (C++ logging, e.g. TensorFlow's start-up lines) to `path` for a while."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as sink:
        os.dup2(sink.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def set_random_seed(seed: int) -> None:
    """keras.utils.set_random_seed, with TensorFlow's start-up lines kept off stderr, and without TensorFlow on the
    JAX and torch backends. Keras 3.15.1 imports TensorFlow to seed tf.random whenever it is installed, on every
    backend (rng_utils.py), for tf.data pipelines; the Keras-JAX and Keras-torch rows feed NumPy batches and never
    use tf.random, so there Keras is told TensorFlow is absent for this one call: Python's, NumPy's, the backend's
    and Keras' own seeds are set as before, and the row does not pay TensorFlow's start-up (about 7 s of CPU)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # ...and TensorFlow, once it starts a GPU, maps almost all of its memory: in a Keras-JAX or Keras-torch row that
    # memory belongs to the row's own backend, so TensorFlow takes only what it uses (not measured: no GPU here)
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    import keras  # imported here: the Keras engine modules import this one before they choose Keras' backend
    from keras.src.utils import module_utils  # the lazy TensorFlow module that rng_utils asks `available`

    lazy = module_utils.tensorflow
    saved = lazy._available
    if keras.backend.backend() != "tensorflow" and lazy.module is None:
        lazy._available = False  # only for this call: later code that needs TensorFlow (e.g. an export) imports it
    try:
        with native_stderr_to():
            keras.utils.set_random_seed(seed)
    finally:
        lazy._available = saved
