"""`[model] name = "transformer"`: the Transformer text classifier
(keras-hub TokenAndPositionEmbedding + TransformerEncoder).

Token id 0 is padding: the embedding masks it, the encoders attend only
to real tokens, and the pooling averages real tokens only, so padding
never changes the prediction. The model is an ordinary functional
`keras.Model` whose layers can be edited as any other.
"""

import dataclasses
import warnings

from kerastune_lab.errors import ConfigError
from kerastune_lab.families.model_family import Knob, ModelFamily
from kerastune_lab.families.text_classification import (
    MORE_DATA,
    TEXT_DATA,
    prepare_text_classification,
    rate_down,
    rate_up,
)
from kerastune_lab.fields import option

# keras-hub's TokenAndPositionEmbedding hands its masked token embeddings
# to its inner PositionEmbedding, and Keras warns at every call that the
# mask is lost there; the outer layer's own compute_mask carries it on
# (tests/test_transformer_family.py: padding never changes a prediction),
# so the warning would only alarm the user.
warnings.filterwarnings(
    "ignore",
    message=r"Layer 'position_embedding' \(of type PositionEmbedding\) was "
    "passed an input with a mask attached",
    category=UserWarning,
)


@dataclasses.dataclass
class TransformerParams:
    """A Transformer encoder over the same text data as the GRU."""

    embedding_dim: int = option(
        64, minimum=1, doc="token/position embedding and encoder width"
    )
    num_layers: int = option(2, minimum=1, doc="stacked encoder blocks")
    num_heads: int = option(
        2, minimum=1, doc="attention heads (divide embedding_dim)"
    )
    intermediate_dim: int = option(
        128, minimum=1, doc="feed-forward width of each block"
    )
    dropout: float = option(
        0.1,
        minimum=0.0,
        maximum=0.95,
        doc="dropout in the blocks and before the classifier",
    )


def check(config):
    params = config.model.params
    if params.embedding_dim % params.num_heads:
        raise ConfigError(
            f"model.embedding_dim = {params.embedding_dim} is not "
            f"divisible by model.num_heads = {params.num_heads}: each "
            "head gets embedding_dim / num_heads dimensions. Use e.g. "
            f"--set model.num_heads={_divisor(params.embedding_dim)}."
        )


def _divisor(width):
    return next(h for h in (8, 4, 2, 1) if width % h == 0)


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
    masked mean over tokens -> Dropout -> softmax (padding: see above).

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
    import keras
    import keras_hub

    if embedding_dim % num_heads:
        raise ValueError(
            f"embedding_dim ({embedding_dim}) must be divisible by num_heads "
            f"({num_heads}): each head gets embedding_dim / num_heads "
            "dimensions."
        )
    tokens = keras.Input((sequence_length,), dtype="int32", name="tokens")
    x = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size=vocab_size,
        sequence_length=sequence_length,
        embedding_dim=embedding_dim,
        mask_zero=True,
        name="embedding",
    )(tokens)
    for i in range(num_layers):
        x = keras_hub.layers.TransformerEncoder(
            intermediate_dim=intermediate_dim,
            num_heads=num_heads,
            dropout=dropout,
            name=f"encoder_{i}",
        )(x)
    x = keras.layers.GlobalAveragePooling1D(name="pooling")(x)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", name="classifier"
    )(x)
    return keras.Model(tokens, outputs, name="transformer_classifier")


def prepare(config):
    return prepare_text_classification(config, build_transformer_classifier)


KNOBS = (
    Knob(
        "model.dropout",
        "regularisation",
        rate_up,
        rate_down,
        "dropout (regularisation)",
    ),
    Knob(
        "model.num_layers",
        "capacity",
        lambda n: n + 1,
        lambda n: n - 1 if n > 1 else None,
        "model depth (capacity)",
    ),
    MORE_DATA,
)

FAMILY = ModelFamily(
    name="transformer",
    params=TransformerParams,
    data_kinds=TEXT_DATA,
    prepare=prepare,
    check=check,
    knobs=KNOBS,
)
