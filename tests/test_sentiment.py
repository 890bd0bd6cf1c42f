"""The sentiment task: load() on a tiny aclImdb copy (and its cache), class order, subsets,
text baselines without leakage, equal parameter counts, the same logits in PyTorch, Keras
and the NumPy reference, and the dry run through the CLI on the real data.

Archives with a `../` member are rejected by `safe_extract_tar`, which `load_imdb_reviews`
uses for aclImdb_v1.tar.gz: see tests/test_download.py (test_safe_extract_refuses_escapes).
"""

from __future__ import annotations


import numpy as np
import pytest
from conftest_data import make_aclimdb

from frameworks.base import RunSettings
from tasks import reference, sentiment, text
from tasks.init import init_weights
from tasks.spec import count_params
from workbench.run.driver import RunRequest, load_data, run_one

SPEC = sentiment.SPEC


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A tiny aclImdb folder (3 reviews per split and class) and a private cache folder."""
    monkeypatch.setenv("FRAMEBENCH_CACHE", str(tmp_path / "cache"))
    make_aclimdb(tmp_path / "data", n=3)
    return tmp_path


def test_load_tiny_folder(tiny):
    data = sentiment.load(str(tiny / "data"))
    assert data.X_train.shape == data.X_test.shape == (6, SPEC.data.max_len)
    assert data.X_train.dtype == np.int32 and data.y_train.dtype == np.int64
    assert data.y_train.tolist() == data.y_test.tolist() == [0, 1, 0, 1, 0, 1]
    for texts, y, split in ((data.train_texts, data.y_train, "train"), (data.test_texts, data.y_test, "test")):
        assert all(t.startswith(f"{split} {'pos' if label else 'neg'} ") for t, label in zip(texts, y))
    assert not data.canonical and any("not 12500" in w for w in data.warnings)
    # pre-padding: zeros in front of the 4 tokens "train", "neg", "0", "caf" (é is not in TOKEN_PATTERN)
    row = data.X_train[0]
    assert (row[:-4] == text.PAD_ID).all() and (row[-4:] != text.PAD_ID).all()
    assert data.X_train.max() < SPEC.data.num_words


def test_load_reuses_the_encoded_cache(tiny, monkeypatch):
    first = sentiment.load(str(tiny / "data"))
    assert len(list((tiny / "cache" / "imdb-encoded").glob("text-*.npz"))) == 1

    def no_vocab(*args, **kwargs):
        raise AssertionError("the vocabulary was rebuilt instead of read from the cache")

    monkeypatch.setattr(text, "build_vocab", no_vocab)
    second = sentiment.load(str(tiny / "data"))
    np.testing.assert_array_equal(first.X_train, second.X_train)
    np.testing.assert_array_equal(first.X_test, second.X_test)


def test_alternate_classes_keeps_file_order_within_a_class():
    y = np.array([0, 0, 0, 0, 1, 1])
    order = sentiment.alternate_classes(y)
    assert order.tolist() == [0, 4, 1, 5, 2, 3]
    assert sorted(order.tolist()) == list(range(len(y)))


def test_subset_is_balanced_and_texts_follow(tiny):
    request = RunRequest(task="sentiment", framework="sklearn", model="naive_bayes_counts", subset=4,
                         data_dir=str(tiny / "data"))  # fmt: skip
    data = load_data(request, request.task_spec())
    assert data.y_train.tolist() == [0, 1, 0, 1] and len(data.train_texts) == 4
    assert len(data.y_test) == 6 and len(data.test_texts) == 6


@pytest.mark.parametrize("model", [b.name for b in SPEC.baselines])
def test_text_baselines_fit_on_training_texts_only(tiny, model, monkeypatch):
    from frameworks import sklearn as sk

    fitted = []
    original = sk.Baseline.fit

    def spy(self, X, y, texts=None):
        result = original(self, X, y, texts)
        fitted.append(self.estimator[0].vocabulary_)
        return result

    monkeypatch.setattr(sk.Baseline, "fit", spy)
    request = RunRequest(task="sentiment", framework="sklearn", model=model, data_dir=str(tiny / "data"),
                         settings=RunSettings(threads=1, progress=False))  # fmt: skip
    result = run_one(request)
    assert result.status == "ok", result.message
    assert result.test_samples == 6
    (vocabulary,) = fitted
    assert "train" in vocabulary and "test" not in vocabulary  # "test" occurs in test reviews only


# ------------------------------------------------------------------ the same network in both frameworks


def _adapters(dtype: str):
    from frameworks import keras as keras_adapter
    from frameworks import pytorch as torch_adapter

    settings = RunSettings(threads=1, dtype=dtype, progress=False)
    weights = init_weights(SPEC.model, SPEC.init, seed=0)
    built = []
    for module in (torch_adapter, keras_adapter):
        module.configure(settings)
        adapter = module.create(SPEC, settings)
        adapter.build(weights)
        built.append(adapter)
    return weights, built


@pytest.fixture
def keras_floatx():
    """Restore Keras' global float type after a float64 build."""
    import keras

    before = keras.config.floatx(), keras.config.dtype_policy().name
    yield
    keras.config.set_floatx(before[0])
    keras.config.set_dtype_policy(before[1])


def test_param_counts_equal_across_frameworks(keras_floatx):
    weights, adapters = _adapters("float32")
    counts = [adapter.num_params() for adapter in adapters]
    assert counts == [count_params(SPEC.model)] * 2 == [sum(w.size for w in weights.values())] * 2  # every weight


def test_same_logits_pytorch_keras_reference(tiny, keras_floatx):
    encoded = sentiment.load(str(tiny / "data")).X_test[:2]
    rng = np.random.default_rng(1)
    random_ids = rng.integers(text.NUM_RESERVED, SPEC.data.num_words, size=(3, SPEC.data.max_len), dtype=np.int32)
    random_ids[0, :150] = text.PAD_ID  # a short review, pre-padded
    X = np.concatenate([encoded, random_ids])
    weights, adapters = _adapters("float64")
    expected = reference.forward(SPEC.model, weights, X)
    assert expected.shape == (len(X), 1)
    for adapter in adapters:
        np.testing.assert_allclose(adapter.predict(X), expected, rtol=0, atol=SPEC.tolerances.forward64, err_msg=type(adapter).__module__)
    for adapter in adapters:  # the canonical weights survive the round trip through each framework
        for key, value in adapter.get_weights().items():
            np.testing.assert_allclose(value, weights[key], rtol=0, atol=0, err_msg=key)


def _one_step_weights(keras_floatx) -> tuple[dict, dict, dict]:  # noqa: ANN001
    """Canonical weights before, and after one float32 Adam step in PyTorch and in Keras, on one batch.

    The batch repeats ids (PAD above all, and a few words twice), as every real batch does.
    """
    rng = np.random.default_rng(0)
    X = rng.integers(text.NUM_RESERVED, SPEC.data.num_words, size=(16, SPEC.data.max_len), dtype=np.int32)
    X[:8, :150] = text.PAD_ID
    y = rng.integers(0, 2, len(X)).astype(np.int64)
    weights, (torch_adapter, keras_adapter) = _adapters("float32")
    losses = [adapter.train_step(X, y) for adapter in (torch_adapter, keras_adapter)]
    assert abs(losses[0] - losses[1]) < 1e-6, losses  # the same start
    return weights, torch_adapter.get_weights(), keras_adapter.get_weights()


STEP_ATOL = 1e-6  # float32 weights after a step of ~lr = 1e-3; a 3% lr change moves them by ~3e-5


def test_one_step_moves_the_lstm_and_dense_weights_alike(keras_floatx):
    before, torch_w, keras_w = _one_step_weights(keras_floatx)
    for key in before:
        if key.startswith("embedding"):
            continue  # see the next test
        assert np.abs(torch_w[key] - before[key]).max() > 5e-4, key  # the step really moved it
        np.testing.assert_allclose(torch_w[key], keras_w[key], rtol=0, atol=STEP_ATOL, err_msg=key)


def test_one_step_moves_the_embedding_alike(keras_floatx):
    """Stock keras.optimizers.Adam on TensorFlow (eps_style 'uncorrected', this task's) gets the Embedding gradient as
    IndexedSlices with repeated ids unsummed, so v sums squares and rows move by up to sqrt(count) x lr; the adapter's
    AdamUncorrectedEps makes the gradient dense first (this test was a strict xfail before it)."""
    before, torch_w, keras_w = _one_step_weights(keras_floatx)
    key = "embedding_0.embeddings"
    np.testing.assert_allclose(torch_w[key], keras_w[key], rtol=0, atol=STEP_ATOL)


