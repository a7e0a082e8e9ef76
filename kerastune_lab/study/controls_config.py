"""[controls]: the cells `compare` adds to a study's [grid] on its own."""

import dataclasses

from kerastune_lab.errors import ConfigError
from kerastune_lab.fields import option
from kerastune_lab.lr_adapt import registry as rules
from kerastune_lab.study.study_levels import MODE_AXIS, SCHEDULE_AXIS
from kerastune_lab.toml_literal import toml_literal


@dataclasses.dataclass
class ControlsConfig:
    """Cells that `compare` adds to a study's [grid] on its own."""

    matched_rate: list = option(
        [],
        doc="lr_adapt modes (any but none) that get a matched-rate control: "
        "per value of the other axes, a mode-none cell whose base "
        "rate is scaled by the mean factor that mode's runs used "
        "(run after them, as a second stage)",
    )
    schedule_free: bool = option(
        False,
        doc="add a train.schedule level 'schedule_free': "
        "ScheduleFreeAdamW, lr_adapt.mode none, at the base rate times "
        "schedule_free_rate_factor",
    )
    schedule_free_rate_factor: float = option(
        1.0,
        minimum=0.0,
        exclusive_minimum=True,
        doc="the schedule-free cell's rate over the base rate (its authors "
        "advise AdamW rates 1-10x those of scheduled AdamW); declare it "
        "before the study, never tune it on the study's seeds",
    )


def check_controls(controls, grid):
    """Each matched-rate mode is a mode level of the grid beside "none";
    the schedule-free level needs the grid's schedule axis."""
    modes = grid.get(MODE_AXIS, [])
    allowed = rules.matched_rate_modes()
    for mode in controls.matched_rate:
        if mode not in allowed or mode not in modes or "none" not in modes:
            raise ConfigError(
                "controls.matched_rate = "
                f"{toml_literal(controls.matched_rate)}: each entry must be "
                f"one of {', '.join(map(toml_literal, allowed))} and, with "
                '"none", a level of the grid\'s "lr_adapt.mode" axis '
                f"(received levels {toml_literal(modes)})."
            )
    if controls.schedule_free and SCHEDULE_AXIS not in grid:
        raise ConfigError(
            "controls.schedule_free adds a level to the grid's "
            '"train.schedule" axis; add that axis to [grid].'
        )
