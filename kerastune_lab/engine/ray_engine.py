"""`compare --engine ray`: every planned run is one Ray Tune trial.

Each trial trains its `PlannedRun` (resolved in the planning process and
shipped to the trial with `tune.with_parameters`) in a Ray worker and
writes the same run directory as the local engine, so the aggregate is
computed the same way from the same files. The runs directory must be on
a file system every node of the cluster sees.

Ray reserves a fraction of a GPU for a trial (`gpus_per_trial` < 1) and
shows it that GPU (CUDA_VISIBLE_DEVICES), but does not limit the memory
its process takes; each trial limits itself to its share before its
backend starts (`share_trial_gpu`).
"""

import contextlib
import math
import os

from kerastune_lab.engine.planned_run import (
    COMPLETE,
    FAILED,
    SKIPPED,
    RunOutcome,
)
from kerastune_lab.errors import UserError

# Starts the line a failed trial leaves in its run's log: its reason.
TRIAL_FAILED = "Ray trial failed: "
RAY_ADVICE = "raise --gpus-per-trial so that each trial gets a larger share"
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
            f"--engine ray needs Ray Tune, which is not installed: "
            f"{INSTALL_HINT}"
        ) from None
    return ray, tune


def share_trial_gpu(gpus_per_trial, environ=None):
    """Gives this trial's process `gpus_per_trial` of the GPU Ray showed it
    (a fraction below 1), as the environment variables of
    `GpuMemoryShare`; call it before the backend starts. Returns them ({}
    for whole GPUs, none, or no GPU visible)."""
    from kerastune_lab.devices.gpu_memory_share import GpuMemoryShare
    from kerastune_lab.devices.visible_gpus import visible_gpus

    environ = os.environ if environ is None else environ
    if not 0 < gpus_per_trial < 1:
        return {}
    gpus = visible_gpus(environ)
    if not gpus:
        return {}
    shared = GpuMemoryShare(gpus[0], gpus_per_trial).environment(pin=False)
    environ.update(shared)
    return shared


def train_trial(params, runs, gpus_per_trial=0.0):
    """One Ray Tune trial: trains (or resumes, or skips) one planned run."""
    share_trial_gpu(gpus_per_trial)
    import ray
    from ray import tune

    from kerastune_lab.callbacks.tune_report import TuneReport
    from kerastune_lab.devices.gpu_memory_share import apply_gpu_memory_share
    from kerastune_lab.engine.run_worker import (
        failure_message,
        train_planned_run,
    )
    from kerastune_lab.run_directory import RunDirectory

    apply_gpu_memory_share()
    planned = runs[params["run"]]
    if not planned.is_complete():
        with (
            open(planned.log, "a") as out,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(out),
        ):
            node = ray.get_runtime_context().get_node_id()
            print(f"Ray trial on node {node}", flush=True)
            try:
                train_planned_run(planned, callbacks=[TuneReport()])
            except Exception as exception:
                print(TRIAL_FAILED + failure_message(exception, RAY_ADVICE))
                raise
    metrics = RunDirectory(planned.run_dir).read_metrics()
    tune.report(
        {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        | {"done": True}
    )


class RayExecutor:
    """Trains planned runs as the trials of a Ray Tune experiment.

    Re-running restores the experiment of a stage (errored and unfinished
    trials resume, each from its last backed-up epoch; a run directory
    with metrics.json is never trained again); a failing trial is retried
    once.

    Args:
        storage: Folder of the Ray experiments (the study's ray/).
        address: An existing Ray cluster ("auto", "ray://host:10001",
            "host:6379"); default a local Ray instance.
        cpus_per_trial, gpus_per_trial: `tune.with_resources` of a trial;
            a trial given part of a GPU limits itself to that share of
            its memory.
        echo: Prints a line.
    """

    def __init__(
        self,
        storage,
        address=None,
        cpus_per_trial=1.0,
        gpus_per_trial=0.0,
        echo=print,
    ):
        self.ray, self.tune = import_tune()
        self.storage = storage.resolve()
        self.resources = {"cpu": cpus_per_trial, "gpu": gpus_per_trial}
        self.gpus_per_trial = gpus_per_trial
        self.echo = echo
        if address and self.ray.is_initialized():
            # The address names the cluster to train on: a Ray started
            # earlier in this process (a notebook, an earlier study) must
            # not silently take its place.
            self.ray.shutdown()
        if not self.ray.is_initialized():
            self.ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass  # Ray's own shutdown at exit stops a local instance

    def run(self, planned_runs, on_outcome=None, stage="tune"):
        """Trains `planned_runs` as one Ray experiment named `stage`;
        returns their `RunOutcome`s in plan order."""
        tune = self.tune
        runs = {planned.name: planned for planned in planned_runs}
        done_before = {p.name for p in planned_runs if p.is_complete()}
        trainable = tune.with_resources(
            tune.with_parameters(
                train_trial, runs=runs, gpus_per_trial=self.gpus_per_trial
            ),
            self.resources,
        )
        path = self.storage / stage
        if tune.Tuner.can_restore(str(path)):
            self.echo(f"Restoring the Ray experiment in {path}")
            tuner = tune.Tuner.restore(
                str(path),
                trainable,
                resume_unfinished=True,
                resume_errored=True,
            )
        else:
            tuner = tune.Tuner(
                trainable,
                param_space={"run": tune.grid_search(list(runs))},
                run_config=tune.RunConfig(
                    name=stage,
                    storage_path=str(self.storage),
                    verbose=1,
                    failure_config=tune.FailureConfig(max_failures=1),
                ),
            )
        tuner.fit()
        outcomes = []
        for planned in planned_runs:
            if planned.name in done_before:
                outcome = RunOutcome(planned, SKIPPED)
            elif planned.is_complete():
                # Ray times the stage, not each trial.
                outcome = RunOutcome(planned, COMPLETE, math.nan)
            else:
                outcome = RunOutcome(
                    planned, FAILED, math.nan, message=_trial_failure(planned)
                )
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
        return outcomes


def _trial_failure(planned):
    """The reason the last failed trial of `planned` left in its log."""
    log = planned.log.read_text() if planned.log.is_file() else ""
    reasons = [
        line.removeprefix(TRIAL_FAILED)
        for line in log.splitlines()
        if line.startswith(TRIAL_FAILED)
    ]
    return "its Ray trial failed" + (f": {reasons[-1]}" if reasons else "")
