"""Cells a study adds to its grid: matched-rate controls, schedule-free.

SD2 multiplies the scheduled rate by G^(1/root), about 1.5-2 on a
cross-entropy near ln(vocabulary): part or all of its effect can be "a
larger rate". A matched-rate control trains mode `none` with the base rate
scaled by the mean factor the SD/SD2 runs of the same cell actually used,
weighted by the scheduled rate (sum of rates used / sum of rates
scheduled), so both cells take the same total step size and differ only
in how it is spread over the batches. The factor is known only after those
runs, so controls are a second stage of the study.

The schedule-free cell is the reference schedule-free AdamW of Defazio
et al. (2024; `kerastune_lab.optimizers.ScheduleFreeAdamW`), mode none, at
the base rate times controls.schedule_free_rate_factor: an established
method that needs no schedule, as a level `schedule_free` of the schedule
axis.
"""

import numpy as np

from kerastune_lab.statistics.mean_factor import mean_factor
from kerastune_lab.study.grid import Cell, expand_grid
from kerastune_lab.study.study_levels import (
    MODE_AXIS,
    SCHEDULE_AXIS,
    SCHEDULE_FREE,
    matched_level,
)


def first_stage_cells(config):
    """The grid's cells and, with controls.schedule_free, a schedule-free
    cell per combination of the axes other than schedule and mode, at
    controls.schedule_free_rate_factor times the base rate."""
    cells = expand_grid(config.grid, config.levels)
    if config.controls.schedule_free:
        for cell in cells:
            values = dict(cell.values)
            if (
                values[SCHEDULE_AXIS] != config.grid[SCHEDULE_AXIS][0]
                or values.get(MODE_AXIS, "none") != "none"
            ):
                continue
            labels = {**values, SCHEDULE_AXIS: SCHEDULE_FREE}
            rate = cell.run_settings.get(
                "train.learning_rate", config.train.learning_rate
            )
            settings = {
                **cell.run_settings,
                SCHEDULE_AXIS: "constant",
                "train.optimizer": "schedule_free_adamw",
                "train.learning_rate": rate
                * config.controls.schedule_free_rate_factor,
            }
            cells.append(Cell(tuple(labels.items()), tuple(settings.items())))
    return cells


def control_cells(config, runs, known_rates=None):
    """The matched-rate controls of a finished first stage.

    Args:
        config: The study's `ExperimentConfig`.
        runs: {cell: {seed: run}} of the first stage (run["steps"] with lr
            and factor, run["learning_rate"] the base rate).
        known_rates: {control cell name: rate} decided earlier (a resumed
            study keeps the rates its control runs started with).

    Returns:
        (cells, {cell name: base rate}).
    """
    known_rates = dict(known_rates or {})
    by_values = {cell.values: seeds for cell, seeds in runs.items()}
    cells, rates = [], {}
    for mode in config.controls.matched_rate:
        for cell in expand_grid(config.grid, config.levels):
            values = dict(cell.values)
            if values[MODE_AXIS] != mode:
                continue
            labels = {**values, MODE_AXIS: matched_level(mode)}
            control = Cell(tuple(labels.items()))
            rate = known_rates.get(control.name)
            if rate is None:
                seeds = by_values.get(cell.values)
                if not seeds:
                    continue  # the runs to match failed; nothing to match
                factor = float(
                    np.mean(
                        [mean_factor(run["steps"]) for run in seeds.values()]
                    )
                )
                rate = next(iter(seeds.values()))["learning_rate"] * factor
            settings = {
                **cell.run_settings,
                MODE_AXIS: "none",
                "train.learning_rate": rate,
            }
            cells.append(Cell(control.values, tuple(settings.items())))
            rates[control.name] = rate
    return cells, rates
