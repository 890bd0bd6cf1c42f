"""The one tokenizer, vocabulary and padding for the text task, shared by every framework.

Pipeline: lower-case -> replace ``<br />`` tags by a space -> ``re.findall(TOKEN_PATTERN)``
-> ids from a vocabulary built on the *training split only* -> pad/truncate to ``maxlen``.

Ids: ``PAD_ID = 0``, ``OOV_ID = 1``, then words by descending training frequency with ties
broken alphabetically, so ``build_vocab(texts, num_words)`` gives ids ``0 .. num_words - 1``
and fits ``Embedding(num_words, dim)``. Padding and truncation follow Keras
``pad_sequences``: "pre" pads with zeros in front (the LSTM's last step sees real words) and
"pre" truncation keeps the *last* ``maxlen`` tokens.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Sequence

import numpy as np

from tasks.download import DataError, write_atomically
from tasks.safe_files import SafeNpz

TEXT_VERSION = 1  # bump whenever tokenisation or encoding changes: it invalidates every cache
TOKEN_PATTERN = r"[a-z0-9]+(?:'[a-z]+)?"  # runs of letters/digits, with one "'s"/"'t"-style suffix
BR_PATTERN = r"<br\s*/?>"  # IMDB line breaks, replaced by a space before tokenising
PAD_ID = 0  # padding id, also the mask value
OOV_ID = 1  # id of every word not in the vocabulary
NUM_RESERVED = 2  # PAD_ID and OOV_ID; words start at this id
PADDING_CHOICES = ("pre", "post")  # valid values of `padding` and `truncating`

_TOKEN_RE = re.compile(TOKEN_PATTERN)
_BR_RE = re.compile(BR_PATTERN)  # applied after lower-casing, so "<BR/>" matches too


def tokenize(text: str) -> list[str]:
    """Split one text into lower-case tokens: drop <br /> tags, then findall(TOKEN_PATTERN)."""
    return _TOKEN_RE.findall(_BR_RE.sub(" ", text.lower()))


@dataclass(frozen=True)
class Vocab:
    """Word list where words[i] has id i + NUM_RESERVED; ids 0 and 1 are PAD and OOV."""

    words: tuple[str, ...] = ()  # most frequent first, ties alphabetical
    index: dict[str, int] = field(init=False, repr=False, compare=False)  # word -> id

    def __post_init__(self) -> None:
        if len(set(self.words)) != len(self.words):
            raise ValueError("Vocab words must be unique")
        ids = {word: i + NUM_RESERVED for i, word in enumerate(self.words)}
        object.__setattr__(self, "index", ids)

    def __len__(self) -> int:
        """Total number of ids, reserved ones included (the Embedding input size)."""
        return len(self.words) + NUM_RESERVED

    def __contains__(self, word: object) -> bool:
        """Whether `word` has its own id (is not OOV)."""
        return word in self.index

    def word_to_id(self, word: str) -> int:
        """Id of `word`, or OOV_ID if it is not in the vocabulary."""
        return self.index.get(word, OOV_ID)

    def ids(self, tokens: Sequence[str]) -> list[int]:
        """Ids of a token list, OOV_ID for unknown words."""
        return list(map(self.index.get, tokens, repeat(OOV_ID, len(tokens))))


def build_vocab(train_texts: Sequence[str], num_words: int = 20000) -> Vocab:
    """Vocabulary of the num_words - 2 most frequent training words (num_words counts PAD and OOV)."""
    if num_words < NUM_RESERVED:
        raise ValueError(f"num_words must be >= {NUM_RESERVED} (PAD and OOV), got {num_words}")
    counts: Counter[str] = Counter()
    for text in train_texts:
        counts.update(tokenize(text))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return Vocab(words=tuple(word for word, _ in ranked[: num_words - NUM_RESERVED]))


def _check_choice(name: str, value: str) -> None:
    if value not in PADDING_CHOICES:
        raise ValueError(f"{name} must be one of {PADDING_CHOICES}, got {value!r}")


def encode(
    texts: Sequence[str],
    vocab: Vocab,
    maxlen: int = 200,
    padding: str = "pre",
    truncating: str = "pre",
) -> np.ndarray:
    """Token ids as an int32 (N, maxlen) array, padded with PAD_ID and truncated like Keras."""
    _check_choice("padding", padding)
    _check_choice("truncating", truncating)
    if maxlen < 1:
        raise ValueError(f"maxlen must be >= 1, got {maxlen}")
    X = np.full((len(texts), maxlen), PAD_ID, dtype=np.int32)
    for row, text in enumerate(texts):
        ids = vocab.ids(tokenize(text))
        if len(ids) > maxlen:
            ids = ids[-maxlen:] if truncating == "pre" else ids[:maxlen]
        if not ids:
            continue
        if padding == "pre":
            X[row, maxlen - len(ids) :] = ids
        else:
            X[row, : len(ids)] = ids
    return X


@dataclass(frozen=True)
class EncodedText:
    """Both splits of a text task as padded id arrays, plus how they were obtained."""

    X_train: np.ndarray  # int32 (N_train, maxlen)
    y_train: np.ndarray  # labels as given, (N_train,)
    X_test: np.ndarray  # int32 (N_test, maxlen)
    y_test: np.ndarray  # labels as given, (N_test,)
    vocab_size: int = 0  # len(vocab): ids are 0 .. vocab_size - 1 (<= num_words)
    seconds: float = 0.0  # wall time of encode_dataset (build or cache load)
    from_cache: bool = False  # True if read from cache_dir


def cache_key(
    train_texts: Sequence[str],
    y_train: np.ndarray,
    test_texts: Sequence[str],
    y_test: np.ndarray,
    settings: dict[str, object],
) -> str:
    """sha256 hex digest over TEXT_VERSION, the settings, every text and every label."""
    h = hashlib.sha256()
    h.update(json.dumps({"text_version": TEXT_VERSION, **settings}, sort_keys=True).encode())
    for texts, y in ((train_texts, y_train), (test_texts, y_test)):
        h.update(b"split:%d;" % len(texts))
        for text in texts:  # length prefix keeps the concatenation unambiguous
            data = text.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)
        h.update(f"labels:{y.dtype.str}:{y.shape};".encode())
        h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()


CACHE_SLACK_BYTES = 1 << 20  # beyond the arrays' data: the key, npy headers, zip records


def _load_cache(path: Path, key: str, y_train: np.ndarray, y_test: np.ndarray, maxlen: int, num_words: int) -> dict | None:
    """The cached arrays if `path` holds a valid entry for `key` and these settings, else None (never raises).

    Validated against what the caller asks for, never against the file's own claims: the shapes and dtypes declared
    by every member (before its data is read), the labels, and every id below num_words (the Embedding's rows).
    """
    n_train, n_test = len(y_train), len(y_test)
    limit = 4 * (n_train + n_test) * maxlen + y_train.nbytes + y_test.nbytes + CACHE_SLACK_BYTES
    expected = {"X_train": ((n_train, maxlen), np.dtype(np.int32)), "X_test": ((n_test, maxlen), np.dtype(np.int32)),
                "y_train": (y_train.shape, y_train.dtype), "y_test": (y_test.shape, y_test.dtype)}  # fmt: skip
    try:
        with SafeNpz(path, limit, DataError, "text cache") as data:
            headers = data.headers
            if set(headers) != {*expected, "key", "vocab_size"} or headers["key"].dtype.kind != "U" \
                    or headers["key"].shape != () or headers["vocab_size"].dtype.kind not in "iu" or headers["vocab_size"].shape != ():
                return None  # fmt: skip
            if any((headers[name].shape, headers[name].dtype) != want for name, want in expected.items()):
                return None
            if str(data.read("key")[()]) != key:
                return None
            arrays = {name: data.read(name) for name in expected}
            vocab_size = int(data.read("vocab_size")[()])
    except DataError:
        return None
    ok = (
        NUM_RESERVED <= vocab_size <= num_words
        and np.array_equal(arrays["y_train"], y_train)
        and np.array_equal(arrays["y_test"], y_test)
        and all(X.size == 0 or (X.min() >= 0 and X.max() < vocab_size) for X in (arrays["X_train"], arrays["X_test"]))
    )
    return {**arrays, "vocab_size": vocab_size} if ok else None


def _save_cache(path: Path, key: str, arrays: dict) -> None:
    """Write the .npz atomically: a temp file in the same folder, then os.replace."""
    write_atomically(path, lambda f: np.savez(f, key=np.str_(key), **arrays))


def encode_dataset(
    train_texts: Sequence[str],
    y_train: Sequence[int] | np.ndarray,
    test_texts: Sequence[str],
    y_test: Sequence[int] | np.ndarray,
    *,
    num_words: int = 20000,
    maxlen: int = 200,
    padding: str = "pre",
    truncating: str = "pre",
    cache_dir: Path | None = None,
) -> EncodedText:
    """Build the vocab from the train split only, encode both splits, optionally cached in cache_dir."""
    start = time.perf_counter()
    _check_choice("padding", padding)
    _check_choice("truncating", truncating)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if len(train_texts) != len(y_train) or len(test_texts) != len(y_test):
        raise ValueError("each split needs exactly one label per text")
    settings = {"num_words": num_words, "maxlen": maxlen, "padding": padding, "truncating": truncating}
    key, path = "", None
    if cache_dir is not None:
        key = cache_key(train_texts, y_train, test_texts, y_test, settings)
        path = Path(cache_dir) / f"text-{key[:32]}.npz"
        cached = _load_cache(path, key, y_train, y_test, maxlen, num_words)
        if cached is not None:
            return EncodedText(**cached, seconds=time.perf_counter() - start, from_cache=True)
    vocab = build_vocab(train_texts, num_words)  # the test split is never read here
    arrays = {
        "X_train": encode(train_texts, vocab, maxlen, padding, truncating),
        "y_train": y_train,
        "X_test": encode(test_texts, vocab, maxlen, padding, truncating),
        "y_test": y_test,
        "vocab_size": len(vocab),
    }
    if path is not None:
        _save_cache(path, key, arrays)
    return EncodedText(**arrays, seconds=time.perf_counter() - start, from_cache=False)
