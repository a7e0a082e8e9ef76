"""`[model] name = "gru"`: seed 000's GRU text classifier."""

import dataclasses

from kerastune_lab.config.fields import option
from kerastune_lab.families.model_family import ModelFamily
from kerastune_lab.families.text_classification import (
    TEXT_DATA,
    prepare_text_classification,
)

ACTIVATIONS = ("relu", "gelu", "elu", "selu", "tanh", "sigmoid", "swish",
               "leaky_relu", "linear")


@dataclasses.dataclass
class GRUParams:
    """The GRU text classifier of seed 000, with seed 003's regularisation
    knobs."""

    embedding_dim: int = option(32, minimum=1, doc="token embedding width")
    gru_units: int = option(64, minimum=1, doc="units per GRU layer")
    num_layers: int = option(1, minimum=1, doc="stacked GRU layers")
    bidirectional: bool = option(False, doc="wrap each GRU in Bidirectional")
    dropout_rate: float = option(
        0.2, minimum=0.0, maximum=0.95, doc="GRU input dropout and head dropout"
    )
    recurrent_dropout_rate: float = option(
        0.2, minimum=0.0, maximum=0.95, doc="GRU recurrent-state dropout"
    )
    dense_units: int = option(
        0, minimum=0, doc="hidden Dense layer before the output (0: none)"
    )
    activation: str = option(
        "relu", choices=ACTIVATIONS, doc="activation of the hidden Dense"
    )
    batch_norm: bool = option(
        False, doc="BatchNormalization after the hidden Dense"
    )
    l1: float = option(0.0, minimum=0.0, doc="L1 penalty on kernels")
    l2: float = option(0.0, minimum=0.0, doc="L2 penalty on kernels")


def prepare(config):
    from kerastune_lab.models.gru_classifier import build_gru_classifier

    def build(sequence_length, **params):
        return build_gru_classifier(**params)

    return prepare_text_classification(config, build)


FAMILY = ModelFamily(name="gru", params=GRUParams, data_names=TEXT_DATA,
                     prepare=prepare)
