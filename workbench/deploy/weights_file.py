"""weights.npz: every weight in the canonical layout, with the spec's name and a checksum, and no pickles.

The arrays are saved with `np.savez` under their canonical names (`dense_0.kernel`, ...), as
`Network.get_weights()` returns them, and one more member, `__meta__`, holds a JSON string: the
format, the spec's name, the framework that wrote it and the sha256 of the arrays. Loading uses
tasks/safe_files.py (a regular file, no pickle) and checks, before any array's data is read, the spec name,
the keys, and every member's declared shape and dtype against the spec (so a header declaring 10^12 floats
or a zip bomb is refused unread); then the values (finite) and the checksum. Big-endian arrays are converted
to the native byte order. Anything else is a `WeightsFileError` (one line, exit 3), never code that runs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from tasks.download import DataError
from tasks.safe_files import SafeNpz, float64_npz_limit
from tasks.spec import ModelSpec, Weights, param_shapes

FORMAT = "framebench-weights/1"
META_KEY = "__meta__"
DTYPES = ("float32", "float64")  # what a weight may be stored as (either byte order: read as native)
MAX_META_CHARS = 4096  # the JSON member: format, spec, framework, sha256


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


def _meta(npz: SafeNpz, path: Path) -> dict:
    """The JSON member, checked as a short string before it is read."""
    header = npz.headers.get(META_KEY)
    if header is None:
        raise WeightsFileError(f"{path}: no {META_KEY} member: not a framebench weights file")
    if header.dtype.kind != "U" or header.shape != () or header.dtype.itemsize > 4 * MAX_META_CHARS:
        raise WeightsFileError(f"{path}: its {META_KEY} member is not a short JSON string")
    try:
        meta = json.loads(str(npz.read(META_KEY)[()]))
    except (ValueError, TypeError, RecursionError):
        raise WeightsFileError(f"{path}: its {META_KEY} member is not JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise WeightsFileError(f"{path}: format {meta.get('format') if isinstance(meta, dict) else meta!r}, not {FORMAT}")
    return meta


def _check_headers(npz: SafeNpz, path: Path, expected: dict[str, tuple[int, ...]], spec_name: str) -> None:
    """Keys, shapes and dtypes as the members declare them, against the spec, before any array is read."""
    stored = {key: header for key, header in npz.headers.items() if key != META_KEY}
    missing, extra = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
    if missing or extra:
        what = "; ".join(part for part in (missing and f"missing {', '.join(missing)}", extra and f"unexpected {', '.join(extra)}") if part)
        raise WeightsFileError(f"{path}: keys do not match spec {spec_name!r}: {what}")
    for key, shape in expected.items():
        if stored[key].shape != tuple(shape):
            raise WeightsFileError(f"{path}: {key} has shape {stored[key].shape}, spec {spec_name!r} needs {tuple(shape)}")
        if stored[key].dtype.kind != "f" or stored[key].dtype.name not in DTYPES:
            raise WeightsFileError(f"{path}: {key} is {stored[key].dtype}, not one of {', '.join(DTYPES)}")


def max_file_bytes(expected: dict[str, tuple[int, ...]]) -> int:
    """The largest weights file the spec's shapes allow: float64 data plus each member's slack, the JSON member's too."""
    return float64_npz_limit(expected, extra_members=1)


def load_weights(path: Path, model: ModelSpec, spec_name: str) -> Weights:
    """The canonical weights of `path`, after checking them against the spec; WeightsFileError otherwise."""
    path, expected = Path(path), param_shapes(model)
    with SafeNpz(path, max_file_bytes(expected), WeightsFileError, "weights file") as npz:
        meta = _meta(npz, path)
        if meta.get("spec") != spec_name:
            raise WeightsFileError(f"{path}: holds weights of spec {meta.get('spec')!r}, not {spec_name!r}")
        _check_headers(npz, path, expected, spec_name)
        weights = {key: npz.read(key) for key in expected}
    for key, array in weights.items():
        if not np.isfinite(array).all():
            raise WeightsFileError(f"{path}: {key} holds NaN or infinite values: refused")
    if checksum(weights) != meta.get("sha256"):
        raise WeightsFileError(f"{path}: checksum mismatch: the arrays were changed after the file was written")
    return weights
