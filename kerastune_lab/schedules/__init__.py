"""Learning-rate schedules that match Hugging Face's definitions."""

from kerastune_lab.schedules.build_schedule import SCHEDULES, build_schedule
from kerastune_lab.schedules.warmup_linear_decay import WarmupLinearDecay

__all__ = ["SCHEDULES", "WarmupLinearDecay", "build_schedule"]
