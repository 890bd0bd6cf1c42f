"""IMDB transformer the way a Keras user writes it (keras-io style): TokenAndPositionEmbedding and TransformerBlock
layers (pre-LN, 4 heads of key_dim 16, FFN 128 GELU), the padding mask, GlobalAveragePooling1D, compile, fit."""

from __future__ import annotations

from common import arrays, parse, report

args = parse(__doc__)
from keras_common import EpochTimer, keras, setup  # noqa: E402

setup(args.threads)
X, y = arrays("sentiment", args.data_dir, args.subset)


class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embedding plus a learned embedding of each position."""

    def __init__(self, maxlen: int, vocab_size: int, embed_dim: int) -> None:
        super().__init__()
        self.token_emb = keras.layers.Embedding(vocab_size, embed_dim)
        self.pos_emb = keras.layers.Embedding(maxlen, embed_dim)

    def call(self, x):  # noqa: ANN001, ANN201, D102
        return self.token_emb(x) + self.pos_emb(keras.ops.arange(keras.ops.shape(x)[-1]))


class TransformerBlock(keras.layers.Layer):
    """Pre-LN encoder block: x + MHA(LN(x)), then x + FFN(LN(x))."""

    def __init__(self, embed_dim: int, num_heads: int, key_dim: int, ff_dim: int) -> None:
        super().__init__()
        self.att = keras.layers.MultiHeadAttention(num_heads=num_heads, key_dim=key_dim)
        self.ffn = keras.Sequential([keras.layers.Dense(ff_dim, activation="gelu"), keras.layers.Dense(embed_dim)])
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-5)
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-5)

    def call(self, x, mask):  # noqa: ANN001, ANN201, D102
        h = self.norm1(x)
        x = x + self.att(h, h, attention_mask=mask[:, None, :])  # 1 = attend
        return x + self.ffn(self.norm2(x))


ids = keras.Input((200,), dtype="int32")
mask = keras.ops.not_equal(ids, 0)
x = TokenAndPositionEmbedding(200, 20000, 64)(ids)
x = TransformerBlock(64, 4, 16, 128)(x, mask)
x = TransformerBlock(64, 4, 16, 128)(x, mask)
x = keras.layers.GlobalAveragePooling1D()(x, mask=mask)
model = keras.Model(ids, keras.layers.Dense(1)(x))
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.BinaryCrossentropy(from_logits=True))
timer = EpochTimer()
model.fit(X, y.astype("float32"), batch_size=64, epochs=args.epochs, shuffle=True, verbose=0, callbacks=[timer])
report(timer.seconds, len(X))
