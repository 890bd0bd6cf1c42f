"""Export and reload for the PyTorch adapter: a state_dict, a torch.export program and ONNX, each read back with
torch's own loader (or ONNX Runtime). frameworks/pytorch.py names them in EXPORTS and passes its Network."""

from __future__ import annotations

import copy
import logging
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from frameworks import layout, onnx_runtime
from frameworks.base import Export, Network
from tasks.spec import TaskSpec

EXPORTS = {  # artifact -> what it is; the order is the export table's
    "state_dict.pt": Export("native eager", "torch.load(weights_only=True) + load_state_dict"),
    "model.pt2": Export("exported program", "torch.export.load"),
    "model.onnx": Export("ONNX Runtime", "onnxruntime.InferenceSession", ("onnx", "onnxscript", "onnxruntime"), runs_code=False),
}


def _example(network: Network) -> tuple[torch.Tensor]:
    """A batch of 2 zeros: batch 1 would be specialised to a constant by torch.export (its 0/1 rule)."""
    dtype = np.int64 if network.spec.model.input_dtype == "int" else np.float32
    return (network._inputs(np.zeros((2, *network.spec.model.input_shape), dtype=dtype)),)


def _batch_dim() -> tuple[dict[int, torch.export.Dim]]:
    return ({0: torch.export.Dim("batch", min=1)},)  # a dynamic batch: latency at 1, throughput at 1024


def export(network: Network, artifact: str, path: str) -> str:
    """Write one artifact of the trained module, in evaluation mode (BatchNorm running statistics, no dropout)."""
    model = network.model.eval()  # exported in training mode, BatchNorm would normalise with each batch's statistics
    model = copy.deepcopy(model).to(memory_format=torch.contiguous_format)  # PyTorch's default layout, not training's channels-last
    if artifact == "state_dict.pt":
        torch.save(model.state_dict(), path)
        return "torch.save(model.state_dict())"
    if artifact == "model.pt2":
        with warnings.catch_warnings():  # nn.LSTM: "tensor attributes ..._flat_weights were assigned during export"
            warnings.simplefilter("ignore", UserWarning)
            program = torch.export.export(model, _example(network), dynamic_shapes=_batch_dim())
        torch.export.save(program, path)
        return "torch.export.export + torch.export.save"
    if artifact == "model.onnx":
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # "torchvision is not installed" lines on stderr
        names = {"input_names": ["x"], "output_names": ["logits"]}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # external_data=False: by default the weights go to a second file, model.onnx.data, that a copy of
                # model.onnx alone leaves behind (the fallback below always writes one file)
                torch.onnx.export(model, _example(network), path, dynamo=True, dynamic_shapes=_batch_dim(), verbose=False,
                                  external_data=False, **names)  # fmt: skip
            return "torch.onnx.export(dynamo=True)"
        except Exception as exc:  # noqa: BLE001 - the TorchScript-based exporter is the documented fallback
            Path(path).unlink(missing_ok=True)
            Path(path + ".data").unlink(missing_ok=True)
            first = " ".join(str(exc).split())[:160]
            torch.onnx.export(model, _example(network), path, dynamo=False, dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, **names)
            return f"torch.onnx.export(dynamo=False) after dynamo=True failed: {type(exc).__name__}: {first}"
    raise ValueError(f"pytorch has no artifact {artifact!r}")


def _onnx_inputs(spec: TaskSpec, X: np.ndarray) -> np.ndarray:
    """What the ONNX graph of the torch module takes: int64 token ids, or float32 images in NCHW."""
    if spec.model.input_dtype == "int":
        return X.astype(np.int64)
    return np.ascontiguousarray(layout.images_to_torch(X) if len(spec.model.input_shape) == 3 else X, dtype=np.float32)


def load(artifact: str, path: str, network: Network, build_model: Callable[[TaskSpec], torch.nn.Module]) -> Callable[[np.ndarray], np.ndarray]:
    """Read an artifact back with torch's own loader into an unbuilt `network`; predict(X) -> logits, X canonical."""
    spec = network.spec
    if artifact == "state_dict.pt":
        network.model = build_model(spec).to(dtype=network.dtype)
        network.model.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"))  # tensors only, no code
        network.forward = network.model
        return network.predict
    if artifact == "model.pt2":
        program = torch.export.load(path).module()  # a GraphModule: no .eval(), the graph was exported in eval mode
        return torch.no_grad()(lambda X: program(network._inputs(X)).cpu().numpy())
    if artifact == "model.onnx":
        return onnx_runtime.predictor(path, network.settings.threads, lambda X: _onnx_inputs(spec, X))
    raise ValueError(f"pytorch has no artifact {artifact!r}")
