"""Linear warmup, then constant, linear or cosine decay: HF's schedules."""

import math

import keras
from keras import ops

DECAYS = ("constant", "linear", "cosine")


@keras.saving.register_keras_serializable(package="kerastune_lab")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Hugging Face's `constant_with_warmup`, `linear` and `cosine` schedules.

    With s the number of optimizer steps already taken, W = `warmup_steps`
    and D = `decay_steps`, the rate is `peak_learning_rate` times

    - s < W: s / max(1, W)
    - otherwise, p = (s - W) / max(1, D):
      constant: 1; linear: max(0, 1 - p); cosine: 0.5 (1 + cos(pi p)) for
      p <= 1 and 0 after.

    HF's `get_*_schedule_with_warmup(W, T)` is `decay_steps = T - W`.
    Cosine is evaluated as sin(pi (1 - p) / 2) ** 2, the same number,
    because 1 + cos(pi p) loses its float32 digits near p = 1 (Keras's
    CosineDecay is off by over 1e-6 relative there); this form stays within
    float32 rounding of HF at every step. Keras has no linear-with-warmup
    schedule.

    Args:
        peak_learning_rate: Rate reached at the end of warmup.
        warmup_steps: Number of warmup steps W (0 for none).
        decay_steps: Steps D of decay after warmup (ignored by constant).
        decay: `"constant"`, `"linear"` or `"cosine"`.

    Example:

    >>> schedule = WarmupDecay(1e-3, warmup_steps=100, decay_steps=900,
    ...                        decay="cosine")
    >>> optimizer = keras.optimizers.AdamW(learning_rate=schedule)
    """

    def __init__(
        self, peak_learning_rate, warmup_steps=0, decay_steps=1, decay="linear"
    ):
        if not peak_learning_rate > 0:
            raise ValueError(
                "`peak_learning_rate` must be positive. Received: "
                f"peak_learning_rate={peak_learning_rate!r}"
            )
        if not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(
                "`warmup_steps` must be a non-negative int. Received: "
                f"warmup_steps={warmup_steps!r}"
            )
        if not isinstance(decay_steps, int) or decay_steps < 1:
            raise ValueError(
                "`decay_steps` must be a positive int. Received: "
                f"decay_steps={decay_steps!r}"
            )
        if decay not in DECAYS:
            raise ValueError(
                f"`decay` must be one of {DECAYS}. Received: decay={decay!r}"
            )
        self.peak_learning_rate = float(peak_learning_rate)
        self.warmup_steps = warmup_steps
        self.decay_steps = decay_steps
        self.decay = decay

    def __call__(self, step):
        s = ops.cast(step, "float32")
        warmup = float(self.warmup_steps)
        # 1 - p, computed directly so that it keeps its digits near p = 1.
        remaining = ops.maximum(
            warmup + float(self.decay_steps) - s, 0.0
        ) / float(self.decay_steps)
        if self.decay == "constant":
            after = ops.ones_like(s)
        elif self.decay == "linear":
            after = remaining
        else:
            after = ops.square(ops.sin(remaining * (math.pi / 2)))
        factor = ops.where(s < warmup, s / max(1.0, warmup), after)
        return self.peak_learning_rate * factor

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "decay": self.decay,
        }
