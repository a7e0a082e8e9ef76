"""A study's finished runs, read once from their run directories."""

import collections
import math

from kerastune_lab.figures import read_figures
from kerastune_lab.run_directory import RunDirectory


def read_run(run_dir):
    """One finished run as the statistics, plots and report read it:
    {"figures", "history", "steps", "verdict", "flags", "learning_rate",
    "no_skill_eval_loss"}."""
    run = RunDirectory(run_dir)
    diagnosis = run.read_diagnosis()
    history = run.read_history()
    record = run.read_record()
    return {
        "figures": read_figures(history, run.read_metrics()),
        "history": history,
        "steps": run.read_steps(),
        "verdict": diagnosis["verdict"],
        "flags": diagnosis.get("flags", []),
        "learning_rate": record["config"]["train"]["learning_rate"],
        "no_skill_eval_loss": record.get("no_skill_eval_loss", math.nan),
    }


def collect(plan):
    """{cell: {seed: run}} for every complete run of the plan, a list of
    (cell, seed, run_dir)."""
    runs = collections.defaultdict(dict)
    for cell, seed, run_dir in plan:
        if RunDirectory(run_dir).is_complete():
            runs[cell][seed] = read_run(run_dir)
    return runs
