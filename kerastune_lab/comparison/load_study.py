"""A comparison's runs as a pandas DataFrame, each with its cell."""

import json
import pathlib
import re

from kerastune_lab.comparison.study_controls import (
    control_cells,
    first_stage_cells,
)
from kerastune_lab.config import from_dict
from kerastune_lab.errors import UserError
from kerastune_lab.run_directory import RunDirectory
from kerastune_lab.run_table import history_frame, run_row

_SEED = re.compile(r"-seed\d+$")


def _cells(study):
    """{cell name: {axis: level}} of the study's cells, its controls
    (those study.json has a rate for) included."""
    config = from_dict(study["config"])
    cells = first_stage_cells(config)
    cells += control_cells(config, {}, study.get("control_rates"))[0]
    return {cell.name: dict(cell.values) for cell in cells}


def load_study(path, history=False):
    """The runs of a comparison directory as a DataFrame.

    The rows are `load_runs`'s, plus `cell` (the cell's name) and one
    column per axis of the study holding the cell's level, as summary.csv
    and comparisons.csv name it: a control's own level
    ("none_at_sd2_rate", "schedule_free"), where the configuration
    column of that key would hold the setting it trains with.

    Args:
        path: A comparison directory (the last line of `compare`).
        history: Also return the per-epoch history of every run.

    Returns:
        The DataFrame, or with `history=True` the pair (runs, history).

    Raises:
        UserError: `path` has no study.json.
    """
    import pandas as pd

    path = pathlib.Path(path)
    if not (path / "study.json").is_file():
        raise UserError(
            f"{str(path)!r} is not a comparison directory (no study.json). "
            "Pass the folder `kerastune-lab compare` printed last, or use "
            "load_runs for other folders."
        )
    study = json.loads((path / "study.json").read_text())
    cells = _cells(study)
    runs = RunDirectory.find(path / "runs")
    rows = []
    for run in runs:
        cell = _SEED.sub("", run.name)
        rows.append({**run_row(run), "cell": cell, **cells.get(cell, {})})
    frame = pd.DataFrame(rows)
    return (frame, history_frame(runs)) if history else frame
