"""Tests for tasks.text: the shared tokenizer, vocabulary, padding and encode cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tasks import text
from tasks.text import (
    OOV_ID,
    Vocab,
    build_vocab,
    encode,
    encode_dataset,
    tokenize,
)

TRAIN = ["the cat sat", "the dog sat", "a cat ran", "the end"]
Y_TRAIN = [1, 0, 1, 0]
TEST = ["the cat flew", "zebra zebra"]
Y_TEST = [1, 0]


# ---------------------------------------------------------------- tokenize


def test_tokenize_lowercases_and_strips_punctuation() -> None:
    assert tokenize("Hello, WORLD! It's 10/10.") == ["hello", "world", "it's", "10", "10"]


@pytest.mark.parametrize("tag", ["<br />", "<br/>", "<br>", "<BR />", "<br   />"])
def test_tokenize_replaces_br_tags_by_space(tag: str) -> None:
    assert tokenize(f"good{tag}bad") == ["good", "bad"]


def test_tokenize_apostrophes() -> None:
    assert tokenize("don't 'quoted' rock'n'roll cats'") == ["don't", "quoted", "rock'n", "roll", "cats"]


def test_tokenize_keeps_only_ascii_letters_and_digits() -> None:
    # non-ASCII letters split words, tag names stay as tokens, "_" and "–" separate; nothing left of ""
    assert tokenize("Café – naïve x2 <i>foo_bar</i>") == ["caf", "na", "ve", "x2", "i", "foo", "bar", "i"]
    assert tokenize("") == [] and tokenize("-- !! --") == []


# ---------------------------------------------------------------- vocab


def test_vocab_orders_by_frequency_then_alphabet() -> None:
    vocab = build_vocab(["b a c", "c b", "c", "z y"])
    # c:3, b:2, then a/y/z tie at 1 and sort alphabetically
    assert vocab.words == ("c", "b", "a", "y", "z")
    assert [vocab.word_to_id(w) for w in vocab.words] == [2, 3, 4, 5, 6]


def test_vocab_reserved_ids_and_len() -> None:
    vocab = build_vocab(TRAIN)
    assert len(vocab) == 9  # 7 distinct training words, plus PAD and OOV
    assert vocab.word_to_id("the") == 2  # the most frequent word takes the first id after the reserved ones
    assert vocab.word_to_id("never-seen") == OOV_ID
    # padding is 0 (the Embedding mask value) in front, unknown words are 1
    assert encode(["zebra the"], vocab, maxlen=3).tolist() == [[0, 1, 2]]


@pytest.mark.parametrize("num_words", [2, 3, 5])
def test_vocab_size_cap_counts_reserved_ids(num_words: int) -> None:
    vocab = build_vocab(TRAIN, num_words=num_words)
    assert len(vocab) == num_words
    X = encode(TRAIN, vocab, maxlen=4)
    assert X.max() < num_words  # fits Embedding(num_words, ...)


def test_vocab_cap_keeps_most_frequent() -> None:
    vocab = build_vocab(TRAIN, num_words=4)
    assert vocab.words == ("the", "cat")  # the:3, then cat/sat tie at 2 -> alphabetical


def test_vocab_rejects_tiny_num_words_and_duplicates() -> None:
    with pytest.raises(ValueError, match="num_words"):
        build_vocab(TRAIN, num_words=1)
    with pytest.raises(ValueError, match="unique"):
        Vocab(words=("a", "a"))


def test_oov_mapping() -> None:
    vocab = Vocab(words=("good", "bad"))
    assert vocab.ids(["good", "meh", "bad"]) == [2, OOV_ID, 3]
    assert "good" in vocab and "meh" not in vocab


# ---------------------------------------------------------------- encode

VOCAB = Vocab(words=tuple("abcdefgh"))  # a=2, b=3, ... h=9


@pytest.mark.parametrize(
    ("padding", "truncating", "expected"),
    [
        ("pre", "pre", [[0, 0, 2, 3], [4, 5, 6, 7]]),
        ("post", "pre", [[2, 3, 0, 0], [4, 5, 6, 7]]),
        ("pre", "post", [[0, 0, 2, 3], [2, 3, 4, 5]]),
        ("post", "post", [[2, 3, 0, 0], [2, 3, 4, 5]]),
    ],
)
def test_encode_padding_and_truncation(padding: str, truncating: str, expected: list) -> None:
    X = encode(["a b", "a b c d e f"], VOCAB, maxlen=4, padding=padding, truncating=truncating)
    assert X.dtype == np.int32 and X.shape == (2, 4)
    np.testing.assert_array_equal(X, np.array(expected, dtype=np.int32))


def test_encode_empty_text_and_exact_length() -> None:
    X = encode(["", "zzz", "a b c"], VOCAB, maxlen=3)
    np.testing.assert_array_equal(X, [[0, 0, 0], [0, 0, OOV_ID], [2, 3, 4]])
    assert encode([], VOCAB, maxlen=3).shape == (0, 3)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"padding": "left"}, "padding must be one of .*'pre', 'post'"),
    ({"truncating": "middle"}, "truncating must be one of .*'pre', 'post'"),
    ({"maxlen": 0}, "maxlen"),
])
def test_encode_invalid_args(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        encode(["a"], VOCAB, **kwargs)


def test_encode_dataset_invalid_args() -> None:
    with pytest.raises(ValueError, match="padding must be one of"):
        encode_dataset(TRAIN, Y_TRAIN, TEST, Y_TEST, padding="both")
    with pytest.raises(ValueError, match="one label per text"):
        encode_dataset(TRAIN, Y_TRAIN[:2], TEST, Y_TEST)


# ---------------------------------------------------------------- no leakage


def test_test_only_word_is_oov() -> None:
    out = encode_dataset(TRAIN, Y_TRAIN, TEST, Y_TEST, maxlen=3)
    vocab = build_vocab(TRAIN)
    assert "zebra" not in vocab and "flew" not in vocab
    np.testing.assert_array_equal(out.X_test[1], [0, OOV_ID, OOV_ID])
    assert out.X_test[0, 2] == OOV_ID  # "flew"
    assert out.vocab_size == len(vocab)


def test_vocab_never_reads_test_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    real_build = text.build_vocab

    def spy(train_texts, num_words=20000):  # type: ignore[no-untyped-def]
        seen.append(list(train_texts))
        return real_build(train_texts, num_words)

    monkeypatch.setattr(text, "build_vocab", spy)
    encode_dataset(TRAIN, Y_TRAIN, ["unique " * 50] * 10, [0] * 10, maxlen=5)
    assert seen == [TRAIN]


def test_changing_test_texts_leaves_train_encoding_unchanged() -> None:
    a = encode_dataset(TRAIN, Y_TRAIN, TEST, Y_TEST, maxlen=4)
    flood = ["quokka quokka quokka quokka"] * 100  # would top the vocab if it leaked
    b = encode_dataset(TRAIN, Y_TRAIN, flood, [1] * 100, maxlen=4, num_words=4)
    c = encode_dataset(TRAIN, Y_TRAIN, TEST, Y_TEST, maxlen=4, num_words=4)
    np.testing.assert_array_equal(a.X_train, encode(TRAIN, build_vocab(TRAIN), maxlen=4))
    np.testing.assert_array_equal(b.X_train, c.X_train)
    assert b.vocab_size == c.vocab_size == 4
    assert (b.X_test[:, -4:] == OOV_ID).all()


# ---------------------------------------------------------------- cache


def _npz_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.npz"))


def test_cache_round_trip(tmp_path: Path) -> None:
    first = encode_dataset(TRAIN, Y_TRAIN, TEST, Y_TEST, maxlen=4, cache_dir=tmp_path)
    second = encode_dataset(TRAIN, Y_TRAIN, TEST, Y_TEST, maxlen=4, cache_dir=tmp_path)
    assert not first.from_cache and second.from_cache
    for name in ("X_train", "y_train", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
        assert getattr(first, name).dtype == getattr(second, name).dtype
    assert first.vocab_size == second.vocab_size
    assert len(_npz_files(tmp_path)) == 1
    assert not list(tmp_path.glob("*.tmp"))  # atomic write left no temp file


def test_no_cache_dir_means_no_caching(tmp_path: Path) -> None:
    assert not encode_dataset(TRAIN, Y_TRAIN, TEST, Y_TEST).from_cache
    assert not encode_dataset(TRAIN, Y_TRAIN, TEST, Y_TEST).from_cache


@pytest.mark.parametrize("change", [
    {"maxlen": 5}, {"num_words": 3}, {"padding": "post"}, {"truncating": "post"},
    {"train_texts": ["the cat sat", "the dog sat", "a cat ran", "the End!"]},
    {"test_texts": ["the cat flew", "zebra"]},
    {"y_test": [0, 0]},
    {"train_texts": ["the cat sat the", "dog sat", "a cat ran", "the end"]},  # same joined words
])
def test_cache_key_changes_with_settings_and_texts(tmp_path: Path, change: dict) -> None:
    base = {"train_texts": TRAIN, "y_train": Y_TRAIN, "test_texts": TEST, "y_test": Y_TEST, "maxlen": 4}
    encode_dataset(**base, cache_dir=tmp_path)
    changed = encode_dataset(**{**base, **change}, cache_dir=tmp_path)
    assert not changed.from_cache
    assert len(_npz_files(tmp_path)) == 2


def test_cache_key_includes_text_version(monkeypatch: pytest.MonkeyPatch) -> None:
    args = (TRAIN, np.array(Y_TRAIN), TEST, np.array(Y_TEST), {"maxlen": 4})
    before = text.cache_key(*args)
    monkeypatch.setattr(text, "TEXT_VERSION", text.TEXT_VERSION + 1)
    assert text.cache_key(*args) != before


@pytest.mark.parametrize("corrupt", [
    b"not a zip file at all",
    b"",
    "truncate",
    "wrong_shape",
])
def test_corrupt_cache_is_rebuilt(tmp_path: Path, corrupt: object) -> None:
    first = encode_dataset(TRAIN, Y_TRAIN, TEST, Y_TEST, maxlen=4, cache_dir=tmp_path)
    (path,) = _npz_files(tmp_path)
    if corrupt == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    elif corrupt == "wrong_shape":
        with np.load(path) as data:
            arrays = dict(data)
        arrays["X_train"] = arrays["X_train"][:, :2]
        np.savez(path, **arrays)
    else:
        path.write_bytes(corrupt)  # type: ignore[arg-type]
    rebuilt = encode_dataset(TRAIN, Y_TRAIN, TEST, Y_TEST, maxlen=4, cache_dir=tmp_path)
    assert not rebuilt.from_cache
    np.testing.assert_array_equal(rebuilt.X_train, first.X_train)
    again = encode_dataset(TRAIN, Y_TRAIN, TEST, Y_TEST, maxlen=4, cache_dir=tmp_path)
    assert again.from_cache  # the bad file was rewritten
    np.testing.assert_array_equal(again.X_test, first.X_test)
