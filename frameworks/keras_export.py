"""Export and reload for the Keras adapter: the .keras file, TensorFlow's SavedModel and ONNX, each read back with
its own loader. Each backend module lists the artifacts it can write (its EXPORTS); frameworks/keras.py passes its Network.
"""

from __future__ import annotations

import warnings
from typing import Callable

import keras
import numpy as np

from frameworks import onnx_runtime
from frameworks.base import Export, Network

KERAS_FILE = Export("native (Keras predict)", "keras.saving.load_model(safe_mode=True)", runs_code=False)  # traced on TF
SAVED_MODEL = Export("exported program", "tf.saved_model.load")  # TensorFlow backend only


def onnx_export(converter: str) -> Export:
    """The ONNX artifact; Keras converts through a different package on each backend."""
    return Export("ONNX Runtime", "onnxruntime.InferenceSession", ("onnx", converter, "onnxruntime"), runs_code=False)


def export(network: Network, artifact: str, path: str) -> str:
    """Write one artifact of the trained model (each backend lists which ones it can in EXPORTS)."""
    model = network.model
    with network.placed():
        if artifact == "model.keras":
            # A fresh, uncompiled copy: the compiled model's file names the torch-style Adam, an unregistered
            # class, and load_model cannot rebuild it ("Could not locate class 'TFAdamCorrectedEps'").
            network.uncompiled_copy().save(path)
            return "keras.Model.save (an uncompiled copy: no optimizer)"
        if artifact == "saved_model":
            model.export(path, format="tf_saved_model", verbose=False)
            return "model.export(format='tf_saved_model')"
        if artifact == "model.onnx":
            # Keras exports only a model it has called: predict() on JAX runs stateless_call and leaves
            # model._called False ("The model provided has never called."), so call it once here.
            shape = (1, *network.spec.model.input_shape)
            model(network._inputs(np.zeros(shape, dtype=np.int64 if network.spec.model.input_dtype == "int" else np.float32)))
            with warnings.catch_warnings():  # tf2onnx's FutureWarning about np.object, on every export
                warnings.simplefilter("ignore", FutureWarning)
                model.export(path, format="onnx", verbose=False)
            return "model.export(format='onnx')"
    raise ValueError(f"Keras has no artifact {artifact!r}")


def load(artifact: str, path: str, network: Network) -> Callable[[np.ndarray], np.ndarray]:
    """Read an artifact back with Keras' own loader, TensorFlow's (the SavedModel) or ONNX Runtime; `network` is unbuilt."""
    if artifact == "model.keras":
        network.model = keras.saving.load_model(path, safe_mode=True, compile=False)  # no lambda layers, no code
        return network.predict
    if artifact == "saved_model":
        import tensorflow as tf  # the SavedModel is TensorFlow's: only the TensorFlow backend lists it

        with network.placed():
            loaded = tf.saved_model.load(path)
        # Keep `loaded` itself alive: holding only `loaded.serve` lets Python free the object that owns the
        # variables, and the next call fails ("Called a function referencing variables which have been deleted").
        return lambda X: loaded.serve(tf.constant(network._inputs(X))).numpy()
    if artifact == "model.onnx":
        return onnx_runtime.predictor(path, network.settings.threads, network._inputs)  # NHWC floats, int32 ids: as Keras takes them
    raise ValueError(f"Keras has no artifact {artifact!r}")
