"""weights.npz: every weight in the canonical layout, with the spec's name and a checksum, and no pickles.

The arrays are saved with `np.savez` under their canonical names (`dense_0.kernel`, ...), as
`Network.get_weights()` returns them, and one more member, `__meta__`, holds a JSON string: the
format, the spec's name, the framework that wrote it and the sha256 of the arrays. Loading uses
`np.load(allow_pickle=False)` and checks the spec name, the keys, the shapes, the dtypes and the checksum:
anything else is a `WeightsFileError` (one line, exit 3), never code that runs.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from tasks.download import DataError
from tasks.spec import ModelSpec, Weights, param_shapes

FORMAT = "framebench-weights/1"
META_KEY = "__meta__"
DTYPES = ("float32", "float64")  # what a weight may be stored as


class WeightsFileError(DataError):
    """A weights file that cannot be used: the message names the file and what is wrong."""


def checksum(weights: Weights) -> str:
    """sha256 over every array in key order: its name, dtype, shape and little-endian bytes."""
    digest = hashlib.sha256()
    for key in sorted(weights):
        array = np.ascontiguousarray(weights[key])
        little = array.astype(array.dtype.newbyteorder("<"), copy=False)
        digest.update(f"{key}|{little.dtype.str}|{little.shape}|".encode())
        digest.update(little.tobytes())
    return digest.hexdigest()


def save_weights(path: Path, weights: Weights, spec_name: str, framework: str) -> None:
    """Write weights.npz: the canonical arrays and the JSON member (no object arrays, so no pickle)."""
    meta = {"format": FORMAT, "spec": spec_name, "framework": framework, "sha256": checksum(weights)}
    np.savez(path, **{key: np.asarray(value) for key, value in weights.items()}, **{META_KEY: np.array(json.dumps(meta))})


def _read(path: Path) -> tuple[dict, Weights]:
    """The JSON member and the arrays, read without pickle; any unreadable content is a WeightsFileError."""
    try:
        stored = np.load(path, allow_pickle=False)
        if not isinstance(stored, np.lib.npyio.NpzFile):  # a bare .npy array
            raise WeightsFileError(f"{path}: a single .npy array, not a weights.npz archive")
        with stored:
            arrays = {key: stored[key] for key in stored.files}
    except FileNotFoundError:
        raise WeightsFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise WeightsFileError(f"{path} is a folder, not a weights.npz file") from None
    except ValueError as exc:  # "Object arrays cannot be loaded when allow_pickle=False", or not an .npz
        raise WeightsFileError(f"{path}: refused: {' '.join(str(exc).split())}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise WeightsFileError(f"{path}: not a readable .npz file (truncated or corrupt: {exc})") from None
    if META_KEY not in arrays:
        raise WeightsFileError(f"{path}: no {META_KEY} member: not a framebench weights file")
    try:
        meta = json.loads(str(arrays.pop(META_KEY)[()]))
    except (ValueError, TypeError):
        raise WeightsFileError(f"{path}: its {META_KEY} member is not JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise WeightsFileError(f"{path}: format {meta.get('format') if isinstance(meta, dict) else meta!r}, not {FORMAT}")
    return meta, arrays


def load_weights(path: Path, model: ModelSpec, spec_name: str) -> Weights:
    """The canonical weights of `path`, after checking them against the spec; WeightsFileError otherwise."""
    meta, weights = _read(Path(path))
    if meta.get("spec") != spec_name:
        raise WeightsFileError(f"{path}: holds weights of spec {meta.get('spec')!r}, not {spec_name!r}")
    expected = param_shapes(model)
    missing, extra = sorted(set(expected) - set(weights)), sorted(set(weights) - set(expected))
    if missing or extra:
        what = "; ".join(part for part in (missing and f"missing {', '.join(missing)}", extra and f"unexpected {', '.join(extra)}") if part)
        raise WeightsFileError(f"{path}: keys do not match spec {spec_name!r}: {what}")
    for key, shape in expected.items():
        if weights[key].shape != tuple(shape):
            raise WeightsFileError(f"{path}: {key} has shape {weights[key].shape}, spec {spec_name!r} needs {tuple(shape)}")
        if weights[key].dtype.name not in DTYPES:
            raise WeightsFileError(f"{path}: {key} is {weights[key].dtype}, not one of {', '.join(DTYPES)}")
    if checksum(weights) != meta.get("sha256"):
        raise WeightsFileError(f"{path}: checksum mismatch: the arrays were changed after the file was written")
    return weights
