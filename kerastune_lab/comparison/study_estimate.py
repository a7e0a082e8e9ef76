"""`compare --dry-run`: a study's plan, what is done, and how long the
rest will take, without training or writing anything.

The time is the work per run (steps = epochs x batches per epoch) times
this machine's cost per step, measured one of two ways:

- From the study's own finished runs: their wall_seconds over their
  steps (steps.csv) is the whole cost of a run per step (data, compiling,
  validation and testing included), under the sharing they ran with.
- Without finished runs, a timed probe: the first cell's data and model
  are prepared, a few training steps and two evaluations of the test
  split timed in this process; a run then costs its set-up, its steps at
  the steady rate and an evaluation per epoch and for the test. Saving,
  plots and the workers' start are not timed: a lower bound.

Early stopping can end runs sooner than their epochs, so the first
figure is an upper bound. Both are said with the estimate.
"""

import dataclasses
import math
import statistics
import time

from kerastune_lab.duration import duration
from kerastune_lab.run_directory import RunDirectory

# Training steps the probe times after its first (compiling) ones.
PROBE_STEPS = 20
PROBE_WARMUP = 3


@dataclasses.dataclass(frozen=True)
class StepCost:
    """What a run of the study costs, per step and once.

    Attributes:
        seconds_per_step: Seconds one training step takes.
        setup_seconds: Seconds a run spends before its steps (data, model,
            compiling); 0 where `seconds_per_step` includes it.
        eval_seconds: Seconds one evaluation pass takes (after each epoch,
            and once on the test split); 0 where `seconds_per_step`
            includes it.
        steps_per_epoch: Batches per epoch at `batch_size`.
        batch_size: The batch size `steps_per_epoch` was measured at.
        shared: Measured in runs that shared the machine as the study's
            runs will (their wall time); else in one process alone.
        how: How it was measured, for the user.
    """

    seconds_per_step: float
    setup_seconds: float
    eval_seconds: float
    steps_per_epoch: float
    batch_size: int
    shared: bool
    how: str

    def steps(self, config):
        """Training steps of a run of `config`: epochs x batches."""
        examples = self.steps_per_epoch * self.batch_size
        return config.train.epochs * math.ceil(
            examples / config.train.batch_size
        )

    def seconds(self, configs, at_once):
        """Wall time of training `configs`, `at_once` at a time, as
        (least, most). Figures of runs that shared the machine that way
        divide by it; a probe ran alone on every core, and how much runs
        at once gain over it depends on the machine (2 at a time on 2 CPU
        cores took 0.70x as long, benchmarks/study_time.py), so it spans
        a full gain to none."""
        steps = sum(map(self.steps, configs)) * self.seconds_per_step
        steps += sum(c.train.epochs + 1 for c in configs) * self.eval_seconds
        total = steps + len(configs) * self.setup_seconds
        if self.shared:
            return total / at_once, total / at_once
        return total / at_once, total


def cost_of_finished_runs(runs):
    """A `StepCost` from complete `RunDirectory`s, or None if none."""
    finished = [
        (run, run.read_metrics(), len(run.read_steps().get("step", [])))
        for run in runs
        if run.is_complete()
    ]
    finished = [(run, m, steps) for run, m, steps in finished if steps]
    if not finished:
        return None
    # status.json's seconds: the whole run; older runs have only the
    # metrics' wall_seconds (training and testing).
    seconds = sum(
        run.read_status().get("seconds", m["wall_seconds"])
        for run, m, _ in finished
    )
    steps = sum(steps for _, _, steps in finished)
    per_epoch = statistics.median(
        steps / m["epochs_run"] for _, m, steps in finished
    )
    config = finished[0][0].read_config()
    return StepCost(
        seconds / steps,
        0.0,
        0.0,
        per_epoch,
        config["train"]["batch_size"],
        True,
        f"from the {len(finished)} finished run(s) of this study: "
        f"{seconds / steps:.3g} s per step, their whole time (data, "
        "compiling, validation, testing and files) over their steps, as "
        "they shared the machine; early stopping may end runs sooner",
    )


def _step_timer(limit):
    """A Keras callback that times training batches and stops `fit` after
    `limit` of them."""
    import keras

    class StepTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.seconds = []

        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)
            if len(self.seconds) >= limit:
                self.model.stop_training = True

    return StepTimer()


def probe_cost(config):
    """A `StepCost` from timing a few training steps of `config` in this
    process (loads the backend, the data and the model)."""
    from kerastune_lab.load_backend_quietly import load_backend_quietly

    load_backend_quietly()
    from kerastune_lab.training.task_setup import compile_model, prepare_task

    start = time.perf_counter()
    task = prepare_task(config)
    compile_model(task, config)
    prepared = time.perf_counter() - start
    timer = _step_timer(PROBE_WARMUP + PROBE_STEPS)
    data = {
        k: v
        for k, v in task.fit_data.items()
        if not k.startswith("validation")
    }
    limit = PROBE_WARMUP + PROBE_STEPS
    epochs = math.ceil(limit / task.steps_per_epoch)
    task.model.fit(**data, epochs=epochs, verbose=0, callbacks=[timer])
    steady = timer.seconds[PROBE_WARMUP:] or timer.seconds[-1:]
    per_step = statistics.median(steady)
    # Twice: the first pass compiles the evaluation step.
    evaluations = []
    for _ in range(2):
        start = time.perf_counter()
        task.model.evaluate(**task.test_data, verbose=0)
        evaluations.append(time.perf_counter() - start)
    setup = prepared + sum(timer.seconds[:PROBE_WARMUP]) - per_step
    setup += evaluations[0] - evaluations[1]
    return StepCost(
        per_step,
        setup,
        evaluations[1],
        task.steps_per_epoch,
        config.train.batch_size,
        False,
        f"from a timed probe of the first cell in this process: "
        f"{per_step:.3g} s per step (median of {len(steady)} steps after "
        f"{PROBE_WARMUP} compiling ones) with all CPU cores (runs at once "
        "share them), "
        f"{evaluations[1]:.3g} s per evaluation (each epoch's validation, "
        f"the test), {duration(setup)} of set-up per run (data, model, "
        "compiling); saving, plots and starting the workers are not timed",
    )


def estimate_lines(study, engine, echo):
    """The lines `compare --dry-run` prints for a `Study`.

    Args:
        study: A planned `Study` (nothing of it need exist on disk).
        engine: The executor options (`jobs`, `engine`).
        echo: Prints a progress line before a probe.
    """
    planned = study.first_stage()
    left = [p.config for p in planned if not p.is_complete()]
    finished = [
        run
        for run in RunDirectory.find(study.out / "runs")
        if run.is_complete()
    ]
    controls_left = max(
        0, study.control_count() - (len(finished) - (len(planned) - len(left)))
    )
    lines = [
        f"study: {study.config.source or 'the defaults'}",
        f"plan: {study.count_sentence()}",
        f"done: {len(finished)} of {study.run_count()} runs",
        f"folder: {study.out}"
        + ("" if study.out.is_dir() else " (not made yet)"),
    ]
    if not left and not controls_left:
        return [*lines, "estimated time: nothing left to train"]
    cost = cost_of_finished_runs(finished)
    if cost is None:
        echo("timing a few training steps of the first cell ...")
        try:
            cost = probe_cost(planned[0].config)
        except Exception as error:  # the estimate is optional
            return [
                *lines,
                "estimated time: unknown (the probe failed: "
                f"{type(error).__name__}: {error})",
            ]
    # A control trains as the grid cell it matches does.
    configs = left + [planned[0].config] * controls_left
    return [*lines, *_time_lines(cost, configs, engine)]


def _time_lines(cost, configs, engine):
    from kerastune_lab.engine.local_pool import default_jobs

    if engine.get("engine") == "ray":
        at_once = 1
        sharing = (
            "one at a time (Ray trains as many trials at once as its "
            "resources allow)"
        )
    else:
        at_once = engine.get("jobs") or default_jobs()
        sharing = f"{at_once} at a time (--jobs)"
    least, most = cost.seconds(configs, at_once)
    span = (
        f"about {duration(most)}"
        if duration(least) == duration(most)
        else f"between {duration(least)} and {duration(most)} (if the "
        f"runs at once gain the full {at_once}x over one alone, or nothing)"
    )
    return [
        f"estimated time: {span} for the {len(configs)} run(s) left, "
        f"{sharing}",
        f"  how: {cost.how}",
    ]
