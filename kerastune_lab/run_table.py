"""Runs as pandas DataFrames (`load_runs`), for a notebook or a
spreadsheet."""

import math
import pathlib

from kerastune_lab.errors import UserError
from kerastune_lab.figures import read_figures
from kerastune_lab.run_directory import RunDirectory

# metrics.json figures every row carries (NaN where a run has none).
# (read_figures carries every test_ figure already.)
METRICS = (
    "best_epoch",
    "epochs_run",
    "wall_seconds",
)


def run_row(run) -> dict:
    """One run as a flat row: run, status, verdict, family, its figures
    (`RunDirectory.read_figures`) and metrics, the no-skill eval loss,
    every configuration key as "section.key", and its path."""
    record = run.read_record()
    row = {
        "run": run.name,
        "status": run.state,
        "verdict": "",
        "family": record["config"].get("model", {}).get("name", ""),
    }
    if run.diagnosis.is_file():
        diagnosis = run.read_diagnosis()
        row["verdict"] = ", ".join([diagnosis["verdict"], *diagnosis["flags"]])
    if run.is_complete():
        metrics = run.read_metrics()
        row.update(read_figures(run.read_history(), metrics))
        row.update({k: metrics[k] for k in METRICS if k in metrics})
    row["no_skill_eval_loss"] = record.get("no_skill_eval_loss", math.nan)
    row.update(run.read_settings())
    row["path"] = str(run.path)
    return row


def history_frame(runs):
    """Every run's history.csv as one DataFrame, one row per run and
    epoch: run, epoch, loss, val_loss, the metrics, lr."""
    import pandas as pd

    frames = [
        pd.DataFrame(run.read_history()).assign(run=run.name)
        for run in runs
        if run.history.is_file()
    ]
    if not frames:
        return pd.DataFrame(columns=["run", "epoch"])
    history = pd.concat(frames, ignore_index=True)
    history["epoch"] = history["epoch"].astype(int)
    return history[["run", *(c for c in history if c != "run")]]


def load_runs(path="runs", history=False):
    """Every run directory at or below `path` as a DataFrame.

    Runs of studies and improve rounds are included (`RunDirectory.find`).

    Args:
        path: A runs folder (`--runs-dir`), a comparison directory, or one
            run directory.
        history: Also return the per-epoch history of every run.

    Returns:
        A DataFrame with one row per run (`run_row`: run, status, verdict,
        family, figures, metrics, config keys such as
        "train.learning_rate", path); with `history=True` the pair
        (runs, history), history having one row per run and epoch.

    Raises:
        UserError: `path` is not a folder.

    Example:

    >>> import tempfile
    >>> load_runs(tempfile.mkdtemp()).empty
    True
    """
    import pandas as pd

    if not pathlib.Path(path).is_dir():
        raise UserError(
            f"{str(path)!r} is not a folder. Pass a runs folder (the "
            "--runs-dir of run and compare), a comparison or a run "
            "directory."
        )
    runs = RunDirectory.find(path)
    frame = pd.DataFrame([run_row(run) for run in runs])
    if frame.empty:
        frame = pd.DataFrame(columns=["run", "status", "verdict", "family"])
    return (frame, history_frame(runs)) if history else frame
