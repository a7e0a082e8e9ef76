"""Seed 000's other model: a Transformer text classifier on keras-hub
layers."""

import keras


def build_transformer_classifier(
    vocab_size,
    num_classes,
    sequence_length,
    embedding_dim=64,
    num_layers=2,
    num_heads=2,
    intermediate_dim=128,
    dropout=0.1,
):
    """TokenAndPositionEmbedding -> TransformerEncoder x num_layers ->
    masked mean over tokens -> Dropout -> softmax.

    Token id 0 is padding: the embedding masks it, the encoders attend only
    to real tokens, and the pooling averages real tokens only, so padding
    never changes the prediction. An ordinary functional `keras.Model`
    whose layers can be edited as any other.

    Args:
        vocab_size: Number of token ids (including 0 for padding).
        num_classes: Output classes (softmax).
        sequence_length: Tokens per input (position embeddings).
        embedding_dim: Width of the token and position embeddings and of
            every encoder.
        num_layers: Stacked `keras_hub.layers.TransformerEncoder` blocks.
        num_heads: Attention heads per block (must divide embedding_dim).
        intermediate_dim: Width of each block's feed-forward layer.
        dropout: Dropout inside the blocks and before the classifier.

    Example:

    >>> model = build_transformer_classifier(20000, 4, sequence_length=64)
    """
    import keras_hub

    if embedding_dim % num_heads:
        raise ValueError(
            f"embedding_dim ({embedding_dim}) must be divisible by num_heads "
            f"({num_heads}): each head gets embedding_dim / num_heads "
            "dimensions.")
    tokens = keras.Input((sequence_length,), dtype="int32", name="tokens")
    x = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size=vocab_size, sequence_length=sequence_length,
        embedding_dim=embedding_dim, mask_zero=True, name="embedding",
    )(tokens)
    for i in range(num_layers):
        x = keras_hub.layers.TransformerEncoder(
            intermediate_dim=intermediate_dim, num_heads=num_heads,
            dropout=dropout, name=f"encoder_{i}",
        )(x)
    x = keras.layers.GlobalAveragePooling1D(name="pooling")(x)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax",
                                 name="classifier")(x)
    return keras.Model(tokens, outputs, name="transformer_classifier")
