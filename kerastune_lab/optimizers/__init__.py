"""Optimizers: the named factory and the SD/SD2 wrapper."""

from kerastune_lab.optimizers.build_optimizer import build_optimizer
from kerastune_lab.optimizers.loss_adaptive_optimizer import (
    LossAdaptiveOptimizer,
)

__all__ = ["LossAdaptiveOptimizer", "build_optimizer"]
