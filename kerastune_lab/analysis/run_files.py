"""Reading run directories back."""

import csv
import json
import math

from kerastune_lab.errors import UserError


def read_csv_columns(path):
    """CSV with a header -> {column: [float, ...]}."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    return {
        key: [float(row[key]) if row[key] not in ("", None) else math.nan
              for row in rows]
        for key in rows[0]
    }


def read_run_history(path):
    """(history, config or None, first batch loss or None) from a run
    directory or a history.csv."""
    if path.is_dir():
        history_path = path / "history.csv"
        config_path = path / "config.json"
    else:
        history_path, config_path = path, path.parent / "config.json"
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
    steps_path = history_path.parent / "steps.csv"
    first = None
    if steps_path.is_file():
        with open(steps_path, newline="") as f:
            row = next(csv.DictReader(f), None)
        first = float(row["loss"]) if row else None
    return history, config, first
