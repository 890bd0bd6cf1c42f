"""Per-layer outputs of a built adapter, in the canonical layout, for the per-layer forward table.

PyTorch: a forward hook on every module of the `nn.Sequential` (module i is spec layer i).
Keras: a sub-model whose outputs are every layer's output. Both run in evaluation mode.
"""

from __future__ import annotations

import numpy as np

from frameworks import layout
from tasks.spec import Flatten, TaskSpec, layer_shapes


def pytorch_layer_outputs(adapter, spec: TaskSpec, X: np.ndarray) -> list[np.ndarray]:  # noqa: ANN001
    """Every module's output for X (eval mode), mapped NCHW -> NHWC and C,H,W flatten -> H,W,C."""
    outputs: list[np.ndarray] = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: outputs.append(out.detach().cpu().numpy())) for m in adapter.model]
    try:
        adapter.predict(X)
    finally:
        for hook in hooks:
            hook.remove()
    canonical = []
    for layer, (in_shape, _), out in zip(spec.model.layers, layer_shapes(spec.model), outputs):
        if out.ndim == 4:
            out = layout.images_from_torch(out)
        elif isinstance(layer, Flatten) and len(in_shape) == 3:
            out = layout.flat_features_from_torch(out, in_shape)
        canonical.append(out)
    return canonical


def keras_layer_outputs(adapter, spec: TaskSpec, X: np.ndarray) -> list[np.ndarray]:  # noqa: ANN001
    """Every layer's output for X from a Keras sub-model (inference mode); already canonical NHWC."""
    import keras

    model = adapter.model
    probe = keras.Model(model.inputs, [layer.output for layer in model.layers])
    inputs = X.astype(np.int32) if spec.model.input_dtype == "int" else X.astype(adapter.dtype)
    return [np.asarray(out) for out in probe.predict_on_batch(inputs)]


LAYER_OUTPUTS = {"pytorch": pytorch_layer_outputs, "keras": keras_layer_outputs}
