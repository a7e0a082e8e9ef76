"""Keras callbacks of kerastune-lab."""

from kerastune_lab.callbacks.loss_adaptive_lr import LossAdaptiveLR
from kerastune_lab.callbacks.tune_report import TuneReport

__all__ = ["LossAdaptiveLR", "TuneReport"]
