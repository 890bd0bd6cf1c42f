"""The graph form of a ModelSpec, written as named nodes: each node a layer (or an Add) and the nodes it reads.

    graph_model((32, 32, 3), (
        Node("stem", Conv2D(32, 3, 1)),                 # reads the previous node (here: the input)
        Node("stem_relu", ReLU()),
        Node("conv", Conv2D(32, 3, 1)),
        Node("join", Add(), inputs=("conv", "stem_relu")),
        ...
    ))

The names are for whoever reads the spec: the ModelSpec keeps the layers in node order and, per layer, the
indices of the layers it reads (-1: the input), so every canonical weight keeps its index name
('conv2d_2.kernel'), exactly as in a sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.spec import GELU, Add, Dense, Layer, LayerNorm, ModelSpec, MultiHeadSelfAttention, layer_shapes

INPUT = "input"  # the node name of the model's input


@dataclass(frozen=True)
class Node:
    """One named node of a graph: its layer and the names of the nodes whose outputs it takes."""

    name: str = ""  # unique in the graph
    layer: Layer | None = None  # the layer, or Add() to sum its inputs
    inputs: tuple[str, ...] = ()  # earlier node names or "input"; () = the node just before (or the input)


def graph_model(input_shape: tuple[int, ...], nodes: tuple[Node, ...], input_dtype: str = "float", loss: str = "cross_entropy") -> ModelSpec:
    """The ModelSpec of these nodes, in their order; the last node outputs the logits. Bad names raise ValueError."""
    index: dict[str, int] = {INPUT: -1}
    inputs = []
    for i, node in enumerate(nodes):
        if node.name in index:
            raise ValueError(f"node name {node.name!r} is used twice (or is {INPUT!r})")
        sources = node.inputs or ((nodes[i - 1].name,) if i else (INPUT,))
        unknown = [name for name in sources if name not in index]
        if unknown:
            raise ValueError(f"node {node.name!r} reads {unknown[0]!r}, which is not an earlier node")
        inputs.append(tuple(index[name] for name in sources))
        index[node.name] = i
    model = ModelSpec(input_shape=tuple(input_shape), layers=tuple(n.layer for n in nodes), input_dtype=input_dtype, loss=loss,
                      inputs=tuple(inputs))  # fmt: skip
    layer_shapes(model)  # checks every Add's shapes and every node's input count
    return model


def encoder_block(name: str, source: str, heads: int = 4, head_dim: int = 16, ffn: int = 128, width: int = 64,
                  eps: float = 1e-5, approximate: str = "none") -> tuple:  # fmt: skip
    """The nodes of one pre-LN encoder block reading node `source` , named `name`_*.

    x1 = x + Attention(LayerNorm(x));  y = x1 + Dense(width)(GELU(Dense(ffn)(LayerNorm(x1)))). The last node is
    f"{name}_add2", the block's output.
    """
    return (
        Node(f"{name}_norm1", LayerNorm(eps=eps), inputs=(source,)),
        Node(f"{name}_attention", MultiHeadSelfAttention(heads=heads, head_dim=head_dim)),
        Node(f"{name}_add1", Add(), inputs=(source, f"{name}_attention")),
        Node(f"{name}_norm2", LayerNorm(eps=eps)),
        Node(f"{name}_ffn1", Dense(ffn)),
        Node(f"{name}_gelu", GELU(approximate=approximate)),
        Node(f"{name}_ffn2", Dense(width)),
        Node(f"{name}_add2", Add(), inputs=(f"{name}_add1", f"{name}_ffn2")),
    )
