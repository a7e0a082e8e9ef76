"""Model builders, by the `[model] name` of experiment files."""

from kerastune_lab.models.gru_classifier import build_gru_classifier
from kerastune_lab.models.transfer_classifier import (
    build_transfer_classifier,
    set_trainable_top,
)

MODEL_BUILDERS = {"gru": build_gru_classifier}

__all__ = ["MODEL_BUILDERS", "build_gru_classifier",
           "build_transfer_classifier", "set_trainable_top"]
