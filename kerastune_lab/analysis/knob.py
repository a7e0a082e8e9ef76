"""A key the diagnosis may advise changing, and its next value each way."""

import dataclasses
from collections.abc import Callable
from typing import Any

UP, DOWN = "up", "down"


@dataclasses.dataclass(frozen=True)
class Knob:
    """A key the diagnosis may advise changing, and the next value each way.

    The training keys' knobs are the diagnosis's own
    (`diagnosis_advice.TRAINING_KNOBS`); a model family declares its own
    (`ModelFamily.knobs`) and whoever asks for advice passes them in.
    Values are native (numbers, strings, booleans, lists): `--set` text is
    made from them only where it is shown (`diagnosis.set_text`).

    Attributes:
        key: "section.name", e.g. "model.dropout_rate".
        role: "capacity", "regularisation" or "data" (more data) for a
            family's knobs; "training" for the training keys.
        up, down: `value -> next value` in that direction, or None at the
            end of the key's valid range (the advice then leaves it out).
            Only values that `kerastune-lab check` accepts.
        why: Where the advice comes from, for the user.
        applies: Optional `config dict -> bool` (e.g. only for synthetic
            data, whose size is a key).

    Example:

    >>> units = Knob("model.units", "capacity", lambda n: 2 * n,
    ...              lambda n: n // 2 if n > 1 else None, "model size")
    >>> config = {"model": {"units": 8}}
    >>> units.value(config), units.step(config, UP), units.step(config, DOWN)
    (8, 16, 4)
    """

    key: str
    role: str
    up: Callable[[Any], Any]
    down: Callable[[Any], Any]
    why: str
    applies: Callable[[dict], bool] | None = None

    def value(self, config: dict):
        section, name = self.key.split(".")
        return config[section][name]

    def step(self, config: dict, direction: str):
        """The next value from the configuration's own, one step
        `direction` ("up" or "down"); None where there is none (the end of
        the range, or the knob does not apply to this configuration)."""
        if direction not in (UP, DOWN):
            raise ValueError(
                f"`direction` must be {UP!r} or {DOWN!r}. Received: "
                f"direction={direction!r}"
            )
        if self.applies is not None and not self.applies(config):
            return None
        return getattr(self, direction)(self.value(config))
