"""A GRU text classifier with the usual regularisation knobs (L1/L2,
dropout, batch normalisation).

Token id 0 is padding: the embedding masks it, so every GRU skips padded
steps and the result does not depend on how sequences were padded. L1/L2
apply to every kernel (embedding, GRU input and recurrent kernels, Dense
layers). The model is an ordinary functional `keras.Model`: edit or
extend its layers as with any other.
"""

import keras


def build_gru_classifier(
    vocab_size,
    num_classes,
    embedding_dim=32,
    gru_units=64,
    num_layers=1,
    bidirectional=False,
    dropout_rate=0.2,
    recurrent_dropout_rate=0.2,
    dense_units=0,
    activation="relu",
    batch_norm=False,
    l1=0.0,
    l2=0.0,
):
    """Embedding -> GRU x num_layers -> [Dense -> BN -> act -> Dropout] ->
    softmax.

    Args:
        vocab_size, num_classes: Token ids (0 is padding) and output
            classes.
        embedding_dim, gru_units: Width of the embedding and of each GRU.
        num_layers: Stacked GRU layers.
        bidirectional: Wrap each GRU in `keras.layers.Bidirectional`.
        dropout_rate, recurrent_dropout_rate: GRU input and recurrent
            dropout; dropout_rate also follows the hidden Dense layer.
        dense_units, activation: An optional hidden Dense layer (0: none)
            and its activation.
        batch_norm: BatchNormalization after the hidden Dense layer.
        l1, l2: Kernel penalties.

    Example:

    >>> model = build_gru_classifier(vocab_size=5000, num_classes=4)
    >>> model.compile("adam", "sparse_categorical_crossentropy",
    ...               metrics=["accuracy"])
    """
    regularizer = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    inputs = keras.Input(shape=(None,), dtype="int32", name="tokens")
    gru = {
        "units": gru_units,
        "dropout": dropout_rate,
        "recurrent_dropout": recurrent_dropout_rate,
        "kernel_regularizer": regularizer,
        "recurrent_regularizer": regularizer,
    }
    x = _encoder(
        inputs, vocab_size, embedding_dim, num_layers, bidirectional, gru
    )
    if dense_units:
        x = _hidden_layer(
            x, dense_units, activation, batch_norm, dropout_rate, regularizer
        )
    outputs = keras.layers.Dense(
        num_classes,
        activation="softmax",
        kernel_regularizer=regularizer,
        name="classifier",
    )(x)
    return keras.Model(inputs, outputs, name="gru_classifier")


def _encoder(
    tokens, vocab_size, embedding_dim, num_layers, bidirectional, gru
):
    """The masked embedding (with the GRU kernels' penalty) and `num_layers`
    GRUs (keyword arguments `gru`), each made and applied in turn; all but
    the last return sequences."""
    x = keras.layers.Embedding(
        vocab_size,
        embedding_dim,
        mask_zero=True,
        embeddings_regularizer=gru["kernel_regularizer"],
        name="embedding",
    )(tokens)
    for i in range(num_layers):
        layer = keras.layers.GRU(
            return_sequences=i < num_layers - 1, name=f"gru_{i}", **gru
        )
        if bidirectional:
            layer = keras.layers.Bidirectional(
                layer, name=f"bidirectional_{i}"
            )
        x = layer(x)
    return x


def _hidden_layer(x, units, activation, batch_norm, dropout, regularizer):
    """Dense -> [BatchNormalization] -> activation -> Dropout on x."""
    x = keras.layers.Dense(
        units, kernel_regularizer=regularizer, name="hidden"
    )(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(name="hidden_bn")(x)
    x = keras.layers.Activation(activation, name="hidden_activation")(x)
    return keras.layers.Dropout(dropout, name="hidden_dropout")(x)
