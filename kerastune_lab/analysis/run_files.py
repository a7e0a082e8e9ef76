"""Reading run directories back."""

import csv
import json

from kerastune_lab.errors import UserError
from kerastune_lab.run_directory import RunDirectory, read_csv_columns


def read_run_history(path):
    """(history, config or None, first batch loss or None) from a run
    directory or a history.csv."""
    run = RunDirectory(path if path.is_dir() else path.parent)
    history_path = run.history if path.is_dir() else path
    config_path = run.config
    if not history_path.is_file():
        raise UserError(
            f"{str(path)!r} is not a run directory or history.csv (no "
            f"{history_path.name} found). Pass a folder written by "
            "`kerastune-lab run` or a history.csv file."
        )
    try:
        history = read_csv_columns(history_path)
    except (ValueError, KeyError, csv.Error) as error:
        raise UserError(f"{history_path} is not a readable history: {error}") \
            from None
    if "loss" not in history:
        raise UserError(
            f"{history_path} has no 'loss' column; expected the history.csv "
            "of a run (epoch, loss, val_loss, ...)."
        )
    config = None
    if config_path.is_file():
        config = json.loads(config_path.read_text()).get("config")
    first = None
    if run.steps.is_file():
        with open(run.steps, newline="") as f:
            row = next(csv.DictReader(f), None)
        first = float(row["loss"]) if row else None
    return history, config, first
