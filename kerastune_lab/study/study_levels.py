"""The levels of a study's axes: the [grid]'s, plus those [controls]
adds to the schedule axis (`SCHEDULE_FREE`) and the mode axis (a
matched-rate control per mode, `matched_level`)."""

# The axes the controls add levels to, and the names of those levels.
SCHEDULE_AXIS = "train.schedule"
MODE_AXIS = "lr_adapt.mode"
SCHEDULE_FREE = "schedule_free"


def matched_level(mode):
    """The mode-axis level of the control matched to `mode`'s rate.

    Example:

    >>> matched_level("sd2")
    'none_at_sd2_rate'
    """
    return f"none_at_{mode}_rate"


def study_levels(grid, controls):
    """{axis: [levels]}: the grid's, plus the levels the controls add.

    Args:
        grid: The [grid] section, {axis: [levels]}.
        controls: The `ControlsConfig`.
    """
    axes = {key: list(values) for key, values in grid.items()}
    if controls.schedule_free:
        axes[SCHEDULE_AXIS].append(SCHEDULE_FREE)
    for mode in controls.matched_rate:
        axes[MODE_AXIS].append(matched_level(mode))
    return axes


def study_axes(config):
    """`study_levels` of an `ExperimentConfig`'s [grid] and [controls]."""
    return study_levels(config.grid, config.controls)
