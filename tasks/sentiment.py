"""IMDB sentiment LSTM: 200 token ids -> Embedding(20000, 128) -> LSTM(64) -> Dense(1) (logit).

Each review is lower-cased, its <br /> tags dropped and split into words by `tasks.text`;
the 19,998 most frequent training words get ids 2.., PAD = 0 and OOV = 1. Reviews are cut to
their last 200 tokens and padded with zeros *in front* (pre-padding), so the LSTM's last
step, whose hidden state feeds the Dense layer, always sees real words; no masking in either
framework. Sigmoid cross-entropy on the single logit, Adam (lr 1e-3), batch 64, 2 epochs.

Initial weights are drawn once in NumPy (Keras' defaults, stated in the InitSpec): embedding
U(-0.05, 0.05), LSTM kernel Glorot-uniform, recurrent kernel orthogonal, forget-gate bias 1,
Dense Glorot-uniform with zero bias. Both frameworks load these exact arrays.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tasks.datasets import load_imdb_reviews
from tasks.download import cache_dir
from tasks.pipeline import Dataset
from tasks.spec import (
    GRU,
    LSTM,
    BaselineSpec,
    Conv1D,
    DataSpec,
    Dense,
    Embedding,
    GlobalMaxPool1D,
    InitSpec,
    ModelSpec,
    OptimizerSpec,
    ReLU,
    TaskSpec,
    Tolerances,
    TrainSpec,
)
from tasks.spec_attention import MaskedMeanPooling, PositionEmbedding
from tasks.spec_graph import Node, encoder_block, graph_model
from tasks.text import encode_dataset

NUM_WORDS = 20000  # vocabulary incl. PAD and OOV: the Embedding's number of rows
MAX_LEN = 200  # only the last 200 tokens of each review

SPEC = TaskSpec(
    name="sentiment",
    title="IMDB sentiment LSTM 20000x128 -> 64 -> 1",
    data=DataSpec(
        name="imdb",
        num_classes=2,
        preprocessing="tasks.text tokenizer, vocab from train only, last 200 ids, zero pre-padding",
        num_words=NUM_WORDS,
        max_len=MAX_LEN,
    ),
    model=ModelSpec(
        input_shape=(MAX_LEN,),
        layers=(Embedding(NUM_WORDS, 128), LSTM(64), Dense(1)),
        input_dtype="int",
        loss="binary_cross_entropy",
    ),
    # Keras' defaults, chosen on purpose: PyTorch's default N(0, 1) embedding is ~35x larger
    # than U(-0.05, 0.05) and reaches a lower accuracy in the same epochs (docs/sentiment.md).
    init=InitSpec(kernel="glorot_uniform", bias="zeros", embedding_scale=0.05, recurrent="orthogonal", forget_bias=1.0),
    optimizer=OptimizerSpec(name="adam", lr=1e-3, beta_1=0.9, beta_2=0.999, eps=1e-7, eps_style="uncorrected"),
    # 2 epochs: fixed in advance for both frameworks (the LSTM overfits after ~2 passes).
    train=TrainSpec(batch_size=64, epochs=2, seed=0),
    baselines=(
        # what the task asks for; the feature settings (which words count, how they are weighted) are the
        # baseline library's, set in its adapter
        BaselineSpec("tfidf_logistic_regression", "a linear model on word and word-pair features (tasks.text tokens)"),
        BaselineSpec("naive_bayes_counts", "naive Bayes on word and word-pair features (tasks.text tokens)"),
    ),
    target_accuracy=0.85,
    tolerances=Tolerances(),
)

# a pre-LN transformer encoder (issue 23): token and learned position embeddings (width 64), two blocks of
# 4 heads x 16 and an FFN of 128 with exact GELU, the mean over the real tokens, one logit; the padding (id 0)
# is masked in attention and pooling; init and Adam as SPEC (attention kernels Glorot on their (64, 64) matrices)
TRANSFORMER = graph_model((MAX_LEN,), (
    Node("tokens", Embedding(NUM_WORDS, 64)), Node("positions", PositionEmbedding(MAX_LEN, 64)),
    *encoder_block("block1", "positions", heads=4, head_dim=16, ffn=128, width=64),
    *encoder_block("block2", "block1_add2", heads=4, head_dim=16, ffn=128, width=64),
    Node("pool", MaskedMeanPooling()), Node("logit", Dense(1)),
), input_dtype="int", loss="binary_cross_entropy")  # fmt: skip

# --model NAME: the same data, init rules, optimizer and training, another network. The first is SPEC itself.
VARIANTS = {
    "lstm": SPEC,
    # GRU "reset after" with two biases (Keras' reset_after=True, torch.nn.GRU); gates z, r, h (tasks/spec_layers.py)
    "gru": replace(SPEC, title="IMDB sentiment GRU 20000x128 -> 64 -> 1",
                   model=replace(SPEC.model, layers=(Embedding(NUM_WORDS, 128), GRU(64), Dense(1)))),
    # a text CNN: 128 filters over 5-token windows ('valid'), ReLU, the maximum over the review, one logit
    "cnn": replace(SPEC, title="IMDB sentiment text CNN 20000x128 -> conv5 128 -> global max -> 1",
                   model=replace(SPEC.model, layers=(Embedding(NUM_WORDS, 128), Conv1D(128, 5, padding=0), ReLU(),
                                                     GlobalMaxPool1D(), Dense(1)))),
    "transformer": replace(SPEC, title="IMDB sentiment transformer 20000x64 + positions -> 2 pre-LN blocks 4x16, FFN 128 "
                           "-> masked mean -> 1", model=TRANSFORMER),
}  # fmt: skip


def load(data_dir: str | None = None) -> Dataset:
    """Real IMDB reviews, encoded as int32 (N, 200) id arrays (cached), plus the raw texts."""
    raw = load_imdb_reviews(data_dir)
    encoded = encode_dataset(
        raw.train_texts,
        raw.y_train,
        raw.test_texts,
        raw.y_test,
        num_words=SPEC.data.num_words,
        maxlen=SPEC.data.max_len,
        padding="pre",  # zeros in front: the last LSTM step sees the review's last word
        truncating="pre",  # long reviews keep their last 200 tokens (often the verdict)
        cache_dir=cache_dir() / "imdb-encoded",
    )
    train, test = alternate_classes(raw.y_train), alternate_classes(raw.y_test)
    return Dataset(
        X_train=encoded.X_train[train].astype(np.int32, copy=False),
        y_train=raw.y_train[train].astype(np.int64),
        X_test=encoded.X_test[test].astype(np.int32, copy=False),
        y_test=raw.y_test[test].astype(np.int64),
        name="IMDB",
        source=raw.source,
        canonical=raw.canonical,
        warnings=raw.warnings,
        train_texts=tuple(raw.train_texts[i] for i in train),
        test_texts=tuple(raw.test_texts[i] for i in test),
    )


def alternate_classes(y: np.ndarray) -> np.ndarray:
    """Order that alternates the classes (neg 0, pos 0, neg 1, pos 1, ...), keeping file order within each.

    aclImdb lists every negative review before the positive ones, so without this the first N
    samples of `--subset N` or `--dry-run` would all be negative.
    """
    rank = np.empty(len(y), dtype=np.int64)
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        rank[members] = np.arange(len(members))
    return np.lexsort((y, rank))  # by rank within the class, then by label
