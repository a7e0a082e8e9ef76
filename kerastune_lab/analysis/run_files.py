"""What the diagnosis reads from a run directory or a history.csv."""

import csv
import math

from kerastune_lab.errors import UserError
from kerastune_lab.run_directory import RunDirectory, read_csv_columns


def read_run_history(path):
    """What the diagnosis reads from a run directory or a history.csv:
    (history, config or None, {"initial_loss", "no_skill_loss",
    "step_losses"}, each None (the no-skill loss NaN) where unknown), read
    through `RunDirectory`."""
    run = RunDirectory(path if path.is_dir() else path.parent)
    history_path = run.history if path.is_dir() else path
    if not history_path.is_file():
        missing = (
            "does not exist"
            if not path.exists()
            else (
                f"has no {history_path.name}"
                if path.is_dir()
                else "is missing"
            )
        )
        raise UserError(
            f"{path} is not a run directory or history.csv (it {missing})."
            " Pass a folder written by `kerastune-lab run` or a history.csv "
            "file."
        )
    try:
        history = read_csv_columns(history_path)
    except (ValueError, KeyError, csv.Error) as error:
        raise UserError(
            f"{history_path} is not a readable history: {error}"
        ) from None
    if "loss" not in history:
        raise UserError(
            f"{history_path} has no 'loss' column; expected the history.csv "
            "of a run (epoch, loss, val_loss, ...)."
        )
    config, no_skill = None, None
    if run.is_run():
        record = run.read_record()
        config = record["config"]
        no_skill = record.get("no_skill_eval_loss", math.nan)
    steps = run.read_steps().get("loss") or None
    return (
        history,
        config,
        {
            "initial_loss": steps[0] if steps else None,
            "no_skill_loss": no_skill,
            "step_losses": steps,
        },
    )
