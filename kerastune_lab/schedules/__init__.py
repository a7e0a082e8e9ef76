"""Learning-rate schedules that match Hugging Face's definitions."""

from kerastune_lab.schedules.build_schedule import SCHEDULES, build_schedule
from kerastune_lab.schedules.warmup_decay import WarmupDecay

__all__ = ["SCHEDULES", "WarmupDecay", "build_schedule"]
