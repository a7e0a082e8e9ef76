"""`compare --engine ray`: every cell x seed is one Ray Tune trial.

Each trial trains in a Ray worker process and writes the same run
directory as the local engine (runs/<cell>-seed<seed>), so the aggregate is
computed the same way from the same files. The runs directory must be on a
file system every node of the cluster sees.
"""

import contextlib
import functools
import pathlib
import time

from kerastune_lab.comparison.run_comparison import (
    echo_outcome,
    is_complete,
    log_path,
    plan_controls,
    plan_study,
)
from kerastune_lab.errors import UserError
from kerastune_lab.run_directory import RunDirectory

EXPERIMENT = "tune"
INSTALL_HINT = (
    "pip install 'kerastune-lab[ray]' (or pip install "
    "'ray[tune]'); the default engine, --engine local, needs "
    "nothing more."
)


def import_tune():
    try:
        import ray
        from ray import tune
    except ImportError:
        raise UserError(
            f"--engine ray needs Ray Tune, which is not "
            f"installed: {INSTALL_HINT}"
        ) from None
    return ray, tune


def train_trial(params, study):
    """One Ray Tune trial: trains (or resumes, or skips) one run."""
    import ray
    from ray import tune

    from kerastune_lab.callbacks.tune_report import TuneReport
    from kerastune_lab.config import load_experiment, load_run_config
    from kerastune_lab.training.run_experiment import run_experiment

    seed = params["seed"]
    run_dir = pathlib.Path(study["runs"]) / f"{params['cell']}-seed{seed}"
    if not is_complete(run_dir):
        resume = RunDirectory(run_dir).is_run()
        if resume:
            config = load_run_config(run_dir)
        else:
            config = load_experiment(
                study["config_path"],
                list(study["overrides"])
                + study["cells"][params["cell"]]
                + [f"train.seed={seed}"],
            )
        log = pathlib.Path(study["logs"]) / f"{run_dir.name}.log"
        with (
            open(log, "a") as out,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(out),
        ):
            print(
                f"Ray trial on node {ray.get_runtime_context().get_node_id()}",
                flush=True,
            )
            run_experiment(
                config,
                run_dir=run_dir,
                resume=resume,
                verbose=2,
                callbacks=[TuneReport()],
            )
    metrics = RunDirectory(run_dir).read_metrics()
    tune.report(
        {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        | {"done": True}
    )


def run_comparison_on_ray(
    config,
    config_path,
    overrides,
    seeds,
    runs_dir,
    echo=print,
    address=None,
    cpus_per_trial=1.0,
    gpus_per_trial=0.0,
):
    """Runs the study as a Ray Tune experiment; returns (comparison dir,
    plan, failures) like `run_comparison`.

    The trials are the study's cells (`tune.grid_search`) times a seed
    axis; the matched-rate controls are a second Ray experiment, started
    once the first is done.
    Re-running restores the Ray experiment (errored and unfinished trials
    resume; a run directory with metrics.json is never trained again);
    a failing trial is retried once.

    Args:
        address: An existing Ray cluster ("auto", "ray://host:10001",
            "host:6379"); default a local Ray instance.
        cpus_per_trial, gpus_per_trial: `tune.with_resources` of a trial.
    """
    ray, tune = import_tune()
    out, plan = plan_study(config, config_path, overrides, seeds, runs_dir)
    out = out.resolve()
    if not ray.is_initialized():
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    run_stage = functools.partial(
        _run_stage,
        ray=ray,
        tune=tune,
        out=out,
        config_path=config_path,
        overrides=overrides,
        resources={"cpu": cpus_per_trial, "gpu": gpus_per_trial},
        echo=echo,
    )
    failures = run_stage(plan, EXPERIMENT)
    controls = plan_controls(out, config, seeds, plan)
    if controls:
        echo(f"Matched-rate controls: {len(controls)} runs")
        failures += run_stage(controls, f"{EXPERIMENT}-controls")
    return out, plan + controls, failures


def _run_stage(
    plan, experiment, ray, tune, out, config_path, overrides, resources, echo
):
    """One Tuner over `plan`'s cells x seeds; returns the failures."""
    cells = {cell.name: cell.overrides() for cell, _, _ in plan}
    study = {
        "config_path": str(pathlib.Path(config_path).resolve()),
        "overrides": list(overrides),
        "cells": cells,
        "runs": str(out / "runs"),
        "logs": str(out / "logs"),
    }
    param_space = {
        "cell": tune.grid_search(list(cells)),
        "seed": tune.grid_search(sorted({s for _, s, _ in plan})),
    }
    trainable = tune.with_resources(
        tune.with_parameters(train_trial, study=study), resources
    )
    storage = out / "ray"
    start = time.perf_counter()
    done_before = {
        run_dir.name for _, _, run_dir in plan if is_complete(run_dir)
    }
    if tune.Tuner.can_restore(str(storage / experiment)):
        echo(f"Restoring the Ray experiment in {storage / experiment}")
        tuner = tune.Tuner.restore(
            str(storage / experiment),
            trainable,
            resume_unfinished=True,
            resume_errored=True,
        )
    else:
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            run_config=tune.RunConfig(
                name=experiment,
                storage_path=str(storage),
                verbose=1,
                failure_config=tune.FailureConfig(max_failures=1),
            ),
        )
    tuner.fit()
    seconds = time.perf_counter() - start
    failures = []
    for i, (cell, seed, run_dir) in enumerate(plan, 1):
        prefix = f"[{i}/{len(plan)}] {cell.label}, seed {seed}"
        if run_dir.name in done_before:
            echo(f"{prefix}: complete, skipped")
        elif is_complete(run_dir):
            echo_outcome(echo, prefix, run_dir, seconds, " (study time)")
        else:
            log = log_path(out, run_dir)
            failures.append((cell, seed, log))
            echo(f"{prefix}: FAILED; log: {log}")
    return failures
