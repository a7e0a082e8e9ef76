"""`[model] name = "transformer"`: seed 000's Transformer text classifier
(keras-hub TokenAndPositionEmbedding + TransformerEncoder)."""

import dataclasses

from kerastune_lab.config.fields import option
from kerastune_lab.errors import ConfigError
from kerastune_lab.families.model_family import ModelFamily
from kerastune_lab.families.text_classification import (
    TEXT_DATA,
    prepare_text_classification,
)


@dataclasses.dataclass
class TransformerParams:
    """A Transformer encoder over the same text data as the GRU."""

    embedding_dim: int = option(64, minimum=1,
                                doc="token/position embedding and encoder "
                                    "width")
    num_layers: int = option(2, minimum=1, doc="stacked encoder blocks")
    num_heads: int = option(2, minimum=1,
                            doc="attention heads (divide embedding_dim)")
    intermediate_dim: int = option(128, minimum=1,
                                   doc="feed-forward width of each block")
    dropout: float = option(0.1, minimum=0.0, maximum=0.95,
                            doc="dropout in the blocks and before the "
                                "classifier")


def check(config):
    params = config.model.params
    if params["embedding_dim"] % params["num_heads"]:
        raise ConfigError(
            f"model.embedding_dim = {params['embedding_dim']} is not "
            f"divisible by model.num_heads = {params['num_heads']}: each "
            "head gets embedding_dim / num_heads dimensions. Use e.g. "
            f"--set model.num_heads={_divisor(params['embedding_dim'])}.")


def _divisor(width):
    return next(h for h in (8, 4, 2, 1) if width % h == 0)


def prepare(config):
    from kerastune_lab.models.transformer_classifier import (
        build_transformer_classifier,
    )

    return prepare_text_classification(config, build_transformer_classifier)


FAMILY = ModelFamily(name="transformer", params=TransformerParams,
                     data_names=TEXT_DATA, prepare=prepare, check=check)
