"""The export manifest's signature: HMAC-SHA256 (standard library) over its canonical JSON bytes.

export.json holds the sha256 of every file of its folder, so a signature over the manifest covers every
file. Whoever holds the key (`--signing-key FILE`, the same file for `--export` and `--verify-export`) can
sign; anyone who can edit the folder can still rehash an unsigned manifest, which is why, without a key,
the hashes only catch accidental corruption and artifacts that can run operations are not loaded.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from tasks.download import DataError
from tasks.safe_files import read_bytes

ALGORITHM = "hmac-sha256"
SIGNATURE = "signature"  # the manifest's key that holds {"algorithm": ALGORITHM, "hmac": hex digest}
MIN_KEY_BYTES = 16  # e.g. `head -c 32 /dev/urandom > export.key`
MAX_KEY_BYTES = 1 << 16


class SigningKeyError(DataError):
    """A --signing-key file that cannot be used (one line)."""


def read_key(path: str) -> bytes:
    """The key's bytes: a regular file of MIN_KEY_BYTES..MAX_KEY_BYTES bytes; SigningKeyError otherwise."""
    key = read_bytes(path, MAX_KEY_BYTES, SigningKeyError, "--signing-key file")
    if len(key) < MIN_KEY_BYTES:
        raise SigningKeyError(f"--signing-key {path}: {len(key)} bytes, fewer than {MIN_KEY_BYTES}: "
                              f"make one with `head -c 32 /dev/urandom > {path}`")  # fmt: skip
    return key


def canonical_bytes(manifest: dict) -> bytes:
    """The bytes signed: the manifest without its signature, as JSON with sorted keys and no spaces."""
    unsigned = {key: value for key, value in manifest.items() if key != SIGNATURE}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def digest(manifest: dict, key: bytes) -> str:
    """HMAC-SHA256 of the manifest's canonical bytes, as hex."""
    return hmac.new(key, canonical_bytes(manifest), hashlib.sha256).hexdigest()


def signed(manifest: dict, key: bytes) -> dict:
    """The manifest with its signature added (any previous one replaced)."""
    return {**{k: v for k, v in manifest.items() if k != SIGNATURE}, SIGNATURE: {"algorithm": ALGORITHM, "hmac": digest(manifest, key)}}


def signature_problem(manifest: dict, key: bytes) -> str | None:
    """Why the manifest's signature does not verify under `key`, or None if it does (constant-time comparison)."""
    signature = manifest.get(SIGNATURE)
    if signature is None:
        return "not signed (exported without --signing-key): refused under --signing-key"
    if not isinstance(signature, dict) or signature.get("algorithm") != ALGORITHM or not isinstance(signature.get("hmac"), str):
        return f"its signature is not an {ALGORITHM} signature: refused"
    if not hmac.compare_digest(signature["hmac"].encode("ascii", "replace"), digest(manifest, key).encode("ascii")):
        return "signature does not match: the manifest was changed after it was signed, or signed with another key"
    return None
