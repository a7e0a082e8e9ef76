"""Optimizers: the named factory, the reference schedule-free AdamW and
the SD/SD2 wrapper."""

from kerastune_lab.optimizers.build_optimizer import build_optimizer
from kerastune_lab.optimizers.loss_adaptive_optimizer import (
    LossAdaptiveOptimizer,
)
from kerastune_lab.optimizers.schedule_free_adamw import ScheduleFreeAdamW

__all__ = ["LossAdaptiveOptimizer", "ScheduleFreeAdamW", "build_optimizer"]
