"""The GRU text classifier of seed 000, with seed 003's regularisation
knobs."""

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

    Token id 0 is padding: the embedding masks it, so every GRU skips padded
    steps and the result does not depend on how sequences were padded.
    L1/L2 apply to every kernel (embedding, GRU input and recurrent kernels,
    Dense layers). The returned model is an ordinary functional
    `keras.Model`: edit or extend its layers as with any other.

    Args:
        vocab_size: Number of token ids (including 0 for padding).
        num_classes: Number of output classes.
        embedding_dim: Width of the token embedding.
        gru_units: Units of each GRU layer.
        num_layers: Stacked GRU layers.
        bidirectional: Wrap each GRU in `keras.layers.Bidirectional`.
        dropout_rate: GRU input dropout, and dropout of the hidden Dense.
        recurrent_dropout_rate: Dropout on the GRU recurrent state.
        dense_units: Width of an optional hidden Dense layer (0: none).
        activation: Activation of the hidden Dense layer.
        batch_norm: Add BatchNormalization after the hidden Dense layer.
        l1, l2: Kernel penalties.

    Example:

    >>> model = build_gru_classifier(vocab_size=5000, num_classes=4)
    >>> model.compile("adam", "sparse_categorical_crossentropy",
    ...               metrics=["accuracy"])
    """
    regularizer = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    inputs = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(
        vocab_size,
        embedding_dim,
        mask_zero=True,
        embeddings_regularizer=regularizer,
        name="embedding",
    )(inputs)
    for i in range(num_layers):
        gru = keras.layers.GRU(
            gru_units,
            dropout=dropout_rate,
            recurrent_dropout=recurrent_dropout_rate,
            return_sequences=i < num_layers - 1,
            kernel_regularizer=regularizer,
            recurrent_regularizer=regularizer,
            name=f"gru_{i}",
        )
        if bidirectional:
            gru = keras.layers.Bidirectional(gru, name=f"bidirectional_{i}")
        x = gru(x)
    if dense_units:
        x = keras.layers.Dense(
            dense_units, kernel_regularizer=regularizer, name="hidden"
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name="hidden_bn")(x)
        x = keras.layers.Activation(activation, name="hidden_activation")(x)
        x = keras.layers.Dropout(dropout_rate, name="hidden_dropout")(x)
    outputs = keras.layers.Dense(
        num_classes,
        activation="softmax",
        kernel_regularizer=regularizer,
        name="classifier",
    )(x)
    return keras.Model(inputs, outputs, name="gru_classifier")
