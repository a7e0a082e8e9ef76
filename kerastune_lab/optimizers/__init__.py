"""Optimizers: the named factory and the SD/SD2 wrapper."""

from kerastune_lab.optimizers.build_optimizer import OPTIMIZERS, build_optimizer
from kerastune_lab.optimizers.loss_adaptive_optimizer import (
    LossAdaptiveOptimizer,
)

__all__ = ["OPTIMIZERS", "LossAdaptiveOptimizer", "build_optimizer"]
