"""Optimizers: the named factory, the reference schedule-free AdamW, the
loss-adaptive wrapper and the optimizers that read the loss (their code
is in `kerastune_lab.lr_adapt`)."""

from kerastune_lab.lr_adapt.loss_adaptive_optimizer import (
    LossAdaptiveOptimizer,
)
from kerastune_lab.lr_adapt.momo import Momo, MomoAdam
from kerastune_lab.optimizers.build_optimizer import build_optimizer
from kerastune_lab.optimizers.schedule_free_adamw import ScheduleFreeAdamW

__all__ = [
    "LossAdaptiveOptimizer",
    "Momo",
    "MomoAdam",
    "ScheduleFreeAdamW",
    "build_optimizer",
]
