"""A tiny pre-LN transformer in the graph form (issue 23), for fast attention checks and the injected-bug tests.

Vocabulary 5, so about one token in five is padding (id 0) in random inputs: the padding mask matters everywhere.
"""

from __future__ import annotations

from tasks.spec import Dense, Embedding
from tasks.spec_attention import MaskedMeanPooling, PositionEmbedding
from tasks.spec_graph import Node, encoder_block, graph_model

WIDTH, HEADS, HEAD_DIM, LENGTH = 8, 2, 4, 6
TRANSFORMER = graph_model((LENGTH,), (
    Node("tokens", Embedding(5, WIDTH)), Node("positions", PositionEmbedding(LENGTH, WIDTH)),
    *encoder_block("block", "positions", heads=HEADS, head_dim=HEAD_DIM, ffn=12, width=WIDTH),
    Node("pool", MaskedMeanPooling()), Node("logit", Dense(1)),
), input_dtype="int", loss="binary_cross_entropy")  # fmt: skip
