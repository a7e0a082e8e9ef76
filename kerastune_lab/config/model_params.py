"""Parameters of each model builder, as `[model]` keys of experiment files."""

import dataclasses

from kerastune_lab.config.fields import option

ACTIVATIONS = ("relu", "gelu", "elu", "selu", "tanh", "sigmoid", "swish",
               "leaky_relu", "linear")


@dataclasses.dataclass
class GRUParams:
    """The GRU text classifier of seed 000 (`[model] name = "gru"`)."""

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


@dataclasses.dataclass
class BertMLMParams:
    """A BERT masked LM (`[model] name = "bert_mlm"`), seed 002's model."""

    size: str = option("tiny", choices=("tiny", "small", "base"),
                       doc="architecture when training from scratch")
    preset: str = option(
        "", doc="keras-hub preset name, or a local keras-hub preset or "
                "Hugging Face BERT directory; '' trains from scratch")
    vocabulary_size: int = option(
        8000, minimum=100, doc="WordPiece vocabulary computed from the "
                               "corpus when there is no preset")
    max_sequence_length: int = option(512, minimum=8)
    dropout: float = option(0.1, minimum=0.0, maximum=0.9)


@dataclasses.dataclass
class TransferParams:
    """A keras.applications trunk with a new head (`[model] name =
    "transfer"`), seed 004's finetuning.py."""

    base_model: str = option("mobilenet_v2",
                             choices=("mobilenet_v2", "inception_resnet_v2"))
    weights: str = option(
        "imagenet", doc="'imagenet' (Keras's cache or download), 'none' "
                        "(random: the whole network trains), or a path: a "
                        ".weights.h5 file of the base, or the model.keras / "
                        "run directory of an earlier transfer run")
    image_size: int = option(224, minimum=1,
                             doc="input height and width in pixels")
    head: list = option([512], doc="units of each hidden Dense layer")
    dropout: list = option(
        [0.25], doc="dropout after each hidden Dense (one rate: all)")
    unfreeze: int = option(
        0, minimum=0, doc="train the base's last N layers (0: frozen); "
                          "with train.head_epochs, the layers unfrozen in "
                          "the second phase (0: the whole base)")
    bn_momentum: float = option(
        0.0, minimum=0.0, maximum=1.0,
        doc="batch-norm momentum of the base; 0: 0.9 with weights = "
            "'none', else Keras's")


MODEL_PARAMS = {"gru": GRUParams, "bert_mlm": BertMLMParams,
                "transfer": TransferParams}
