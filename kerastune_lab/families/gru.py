"""`[model] name = "gru"`: the GRU text classifier."""

import dataclasses

from kerastune_lab.families.model_family import Knob, ModelFamily
from kerastune_lab.families.text_classification import (
    MORE_DATA,
    TEXT_DATA,
    prepare_text_classification,
    rate_down,
    rate_up,
)
from kerastune_lab.fields import option

ACTIVATIONS = (
    "relu",
    "gelu",
    "elu",
    "selu",
    "tanh",
    "sigmoid",
    "swish",
    "leaky_relu",
    "linear",
)


@dataclasses.dataclass
class GRUParams:
    """A GRU text classifier (embedding, GRU layers, an optional hidden
    Dense) with the usual regularisation knobs."""

    embedding_dim: int = option(32, minimum=1, doc="token embedding width")
    gru_units: int = option(64, minimum=1, doc="units per GRU layer")
    num_layers: int = option(1, minimum=1, doc="stacked GRU layers")
    bidirectional: bool = option(False, doc="wrap each GRU in Bidirectional")
    dropout_rate: float = option(
        0.2,
        minimum=0.0,
        maximum=0.95,
        doc="GRU input dropout and head dropout",
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


KNOBS = (
    Knob(
        "model.l2",
        "regularisation",
        lambda v: v * 10 if v else 1e-4,
        lambda v: v / 10 if v else None,
        "L2 penalty on kernels (regularisation)",
    ),
    Knob(
        "model.dropout_rate",
        "regularisation",
        rate_up,
        rate_down,
        "dropout (regularisation)",
    ),
    Knob(
        "model.gru_units",
        "capacity",
        lambda n: n * 2,
        lambda n: n // 2 if n >= 8 else None,
        "model size (capacity)",
    ),
    MORE_DATA,
)

FAMILY = ModelFamily(
    name="gru",
    params=GRUParams,
    data_kinds=TEXT_DATA,
    prepare=prepare,
    knobs=KNOBS,
)
