"""A study's finished runs, read once from their run directories."""

import collections

from kerastune_lab.run_directory import RunDirectory


def read_run(run_dir):
    """One finished run as the statistics, plots and report read it:
    {"figures", "history", "steps", "verdict", "flags", "learning_rate",
    "no_skill_eval_loss"}."""
    run = RunDirectory(run_dir)
    diagnosis = run.read_diagnosis()
    return {
        "figures": run.read_figures(),
        "history": run.read_history(),
        "steps": run.read_steps(),
        "verdict": diagnosis["verdict"],
        "flags": diagnosis.get("flags", []),
        "learning_rate": run.read_config()["train"]["learning_rate"],
        "no_skill_eval_loss": run.read_no_skill_eval_loss(),
    }


def collect(plan):
    """{cell: {seed: run}} for every complete run of the plan, a list of
    (cell, seed, run_dir)."""
    runs = collections.defaultdict(dict)
    for cell, seed, run_dir in plan:
        if RunDirectory(run_dir).is_complete():
            runs[cell][seed] = read_run(run_dir)
    return runs
