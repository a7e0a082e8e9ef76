"""Trains one experiment and writes its run directory."""

import dataclasses
import math
import shutil
import time

import keras
import numpy as np

from kerastune_lab.analysis.diagnose_history import diagnose_history
from kerastune_lab.analysis.plot_curves import plot_curves
from kerastune_lab.callbacks.epoch_seeding import EpochSeeding
from kerastune_lab.callbacks.history_csv import HistoryCSV
from kerastune_lab.callbacks.loss_adaptive_lr import (
    SUPPORTED_BACKENDS,
    LossAdaptiveLR,
)
from kerastune_lab.callbacks.perplexity_logger import PerplexityLogger
from kerastune_lab.callbacks.resumable_early_stopping import (
    ResumableEarlyStopping,
)
from kerastune_lab.callbacks.schedule_free_evaluation import (
    ScheduleFreeEvaluation,
)
from kerastune_lab.callbacks.tensorboard_steps import TensorBoardSteps
from kerastune_lab.errors import UserError
from kerastune_lab.families import FAMILIES
from kerastune_lab.lr_adapt.registry import config_settings
from kerastune_lab.optimizers import build_optimizer
from kerastune_lab.run_directory import (
    RunDirectory,
    create_run_dir,
    environment_info,
    keep_epochs_before,
    replaced_atomically,
)
from kerastune_lab.schedules import build_schedule
from kerastune_lab.training.data_parallel import (
    data_parallel_scope,
    split_batches_evenly,
)
from kerastune_lab.training.determinism import make_deterministic


def flat_hyperparameters(config):
    """{section.key: value} of the resolved config, as TensorBoard's
    HParams plugin takes them (numbers, strings, booleans)."""
    flat = {}
    for section, values in config.to_dict().items():
        if section in ("grid", "controls"):
            continue
        for key, value in values.items():
            flat[f"{section}.{key}"] = (
                value
                if isinstance(value, (bool, int, float, str))
                else str(value)
            )
    return flat


@dataclasses.dataclass
class RunResult:
    """What `run_experiment` produced."""

    run_dir: object
    metrics: dict
    diagnosis: object
    history: dict


def build_callbacks(
    config, run_dir, task, resume_epoch=0, first_epoch=0, early_stopping=True
):
    """The callbacks of one training phase, in the order their epoch-end
    hooks must run.

    A resumed run (resume_epoch > 0) keeps the history and step rows of
    the epochs it does not redo. A phase that starts at `first_epoch` > 0
    (the fine-tuning phase of a two-phase run) continues the step count
    of the phases before it.
    """
    adapt = config.lr_adapt
    train = config.train
    keep_before = max(resume_epoch, first_epoch)
    history_rows = keep_epochs_before(run_dir.history, keep_before)
    keep_epochs_before(run_dir.steps, keep_before)
    callbacks = [
        # Before HistoryCSV: it adds logs["lr"].
        LossAdaptiveLR(
            mode=adapt.mode,
            source=task.gamma_source or adapt.source,
            steps_csv=run_dir.steps,
            step_offset=first_epoch * task.steps_per_epoch,
            **config_settings(adapt),
        ),
        *([PerplexityLogger()] if task.perplexity else []),
        *(
            [ScheduleFreeEvaluation()]
            if train.optimizer == "schedule_free_adamw"
            else []
        ),
        HistoryCSV(run_dir.history, history_rows),
        EpochSeeding(train.seed),
    ]
    if train.tensorboard:
        logs = run_dir.tensorboard
        callbacks += [
            keras.callbacks.TensorBoard(str(logs), write_graph=False),
            TensorBoardSteps(
                logs / "steps", callbacks[0], flat_hyperparameters(config)
            ),
        ]
    if train.stop_on_nonfinite == "batch":
        callbacks.append(keras.callbacks.TerminateOnNaN())
    if train.early_stopping and early_stopping:
        callbacks.append(
            ResumableEarlyStopping(
                run_dir.backup,
                resume_epoch if resume_epoch > first_epoch else 0,
                monitor=train.monitor,
                patience=train.patience,
                min_delta=train.min_delta,
                restore_best_weights=train.restore_best_weights,
            )
        )
    # Last, so an epoch is backed up only once everything about it is
    # written: weights, optimizer state (its step drives the schedule) and
    # epoch. Data order and dropout depend on (seed, epoch) alone.
    callbacks.append(
        keras.callbacks.BackupAndRestore(
            str(run_dir.backup), double_checkpoint=True
        )
    )
    return callbacks


def training_phases(config):
    """(first epoch, end epoch, learning rate) of each `model.fit` call:
    one phase, or with train.head_epochs the head alone and then the
    fine-tuning at train.fine_tune_learning_rate (keras-io's transfer-
    learning recipe)."""
    train = config.train
    if not train.head_epochs:
        return [(0, train.epochs, train.learning_rate)]
    return [
        (0, train.head_epochs, train.learning_rate),
        (
            train.head_epochs,
            train.epochs,
            train.fine_tune_learning_rate or train.learning_rate / 10,
        ),
    ]


def compile_model(task, config, learning_rate=None, epochs=None):
    """Compiles the task's model with the configured optimizer, whose
    schedule spans `epochs` (default train.epochs) from `learning_rate`
    (default train.learning_rate)."""
    train = config.train
    total_steps = task.steps_per_epoch * (epochs or train.epochs)
    try:
        rate = build_schedule(
            train.schedule,
            learning_rate or train.learning_rate,
            total_steps,
            train.warmup_steps,
        )
    except ValueError as error:
        raise UserError(
            f"train.warmup_steps = {train.warmup_steps}: {error}"
        ) from None
    optimizer = build_optimizer(
        train.optimizer,
        rate,
        weight_decay=train.weight_decay,
        momentum=train.momentum,
        epsilon=train.epsilon or None,
        clipnorm=train.clipnorm or None,
        f_star=config.lr_adapt.f_star,
    )
    task.model.compile(
        optimizer=optimizer,
        loss=task.loss,
        metrics=task.metrics,
        weighted_metrics=task.weighted_metrics,
        jit_compile="auto" if train.jit_compile else False,
        steps_per_execution=train.steps_per_execution,
    )


def prepare_task(config):
    """Seeds, loads the data and builds the model of `config` (uncompiled)."""
    make_deterministic(config.train.seed, config.train.deterministic)
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(config.train.dtype_policy)
    try:
        return FAMILIES[config.model.name].prepare(config)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def run_experiment(
    config,
    runs_dir="runs",
    verbose="auto",
    echo=print,
    callbacks=(),
    run_dir=None,
    resume=False,
    edit_model=None,
):
    """Trains `config` and writes a run directory.

    Files: status.json ("running" until the run completes), config.json
    (resolved config, versions, backend, seed, data sizes), history.csv
    (per epoch), steps.csv (per optimizer step: that step's own batch loss
    and the rate its update used), metrics.json (test split, evaluated once
    after training), model.keras, diagnosis.json, curves.png.

    Args:
        config: An `ExperimentConfig`.
        runs_dir: Parent folder of run directories.
        verbose: Keras progress display (0, 1, 2 or "auto").
        echo: Where to print progress lines.
        callbacks: Extra Keras callbacks, run after the built-in ones.
        run_dir: Exact output folder; default a new one under `runs_dir`.
        resume: Continue the interrupted run in `run_dir` from its last
            backed-up epoch (weights, optimizer state and schedule step,
            random-generator state, early-stopping state, data order).
        edit_model: A function that takes the built, uncompiled model and
            returns the model to train (e.g. with a new head); its inputs
            and outputs must fit the task's data. A resumed run must pass
            the same function.

    Returns:
        A `RunResult`.
    """
    if keras.backend.backend() not in SUPPORTED_BACKENDS:
        raise UserError(
            f"kerastune-lab trains on the {' and '.join(SUPPORTED_BACKENDS)} "
            f"backends; KERAS_BACKEND is {keras.backend.backend()!r}, where "
            "the per-step log and SD/SD2 are untested. Set "
            "KERAS_BACKEND=tensorflow (the default) or KERAS_BACKEND=jax."
        )
    scope, replicas = data_parallel_scope(config.train)
    with scope:
        return _run_experiment(
            config,
            runs_dir,
            verbose,
            echo,
            callbacks,
            run_dir,
            resume,
            edit_model,
            replicas,
        )


def _run_experiment(
    config,
    runs_dir,
    verbose,
    echo,
    callbacks,
    run_dir,
    resume,
    edit_model,
    replicas,
):
    train = config.train
    task = prepare_task(config)
    dropped = split_batches_evenly(task, replicas, train.batch_size)
    if edit_model is not None:
        if task.export_model is not None:
            raise UserError(
                "edit_model works on models that are saved as "
                "trained; this task exports another model."
            )
        task.model = edit_model(task.model)
    extra_callbacks = callbacks
    if run_dir is None:
        run_dir = RunDirectory(create_run_dir(runs_dir, config.name))
    else:
        run_dir = RunDirectory(run_dir)
        run_dir.path.mkdir(parents=True, exist_ok=True)
    record = {
        "config": config.to_dict(),
        "seed": train.seed,
        "data": task.data_summary,
        "no_skill_eval_loss": task.no_skill_eval_loss,
        "replicas": replicas,
        **({"dropped_for_even_batches": dropped} if dropped else {}),
        **environment_info(),
    }
    resume_epoch = run_dir.backed_up_epoch() if resume else 0
    if not resume:
        # A fresh start must not pick up an older run's backup.
        shutil.rmtree(run_dir.backup, ignore_errors=True)
        run_dir.write_record(record)
    run_dir.write_status("running", resumed_from_epoch=resume_epoch)
    echo(
        "Data: "
        + ", ".join(
            f"{k} {v}"
            for k, v in task.data_summary.items()
            if isinstance(v, int)
        )
    )
    if resume_epoch:
        echo(f"Resuming after epoch {resume_epoch - 1} (0-based)")
    fit_x = task.fit_data["x"]
    if hasattr(fit_x, "epoch"):
        fit_x.epoch = resume_epoch
    model = task.model
    phases = training_phases(config)
    start = time.perf_counter()
    for number, (first, end, rate) in enumerate(phases):
        if end <= resume_epoch:
            continue
        if number:
            echo(f"Fine-tuning from epoch {first} at learning rate {rate:g}")
            task.fine_tune(model)
        compile_model(task, config, rate, end - first)
        callbacks = build_callbacks(
            config,
            run_dir,
            task,
            resume_epoch,
            first,
            early_stopping=number == len(phases) - 1,
        ) + list(extra_callbacks)
        # BackupAndRestore leaves the epoch it restored on the model, and
        # fit prefers it to initial_epoch: a later phase must not inherit
        # an earlier phase's.
        model._initial_epoch = None
        model.fit(
            **task.fit_data,
            initial_epoch=first,
            epochs=end,
            callbacks=callbacks,
            verbose=verbose,
        )
        if model.stop_training:
            break
    history = run_dir.read_history()
    history.pop("epoch", None)
    test = model.evaluate(**task.test_data, verbose=0, return_dict=True)
    wall = time.perf_counter() - start

    adaptive = callbacks[0]
    val_loss = history.get("val_loss") or history["loss"]
    metrics = {"test_loss": float(test["loss"])}
    metrics.update(
        {f"test_{k}": float(v) for k, v in test.items() if k != "loss"}
    )
    if task.perplexity:
        metrics["test_perplexity"] = math.exp(min(metrics["test_loss"], 700))
    metrics.update(task.reference)
    metrics.update(
        {
            # A diverged run may have no finite validation loss at all.
            "best_epoch": int(
                np.argmin(np.where(np.isfinite(val_loss), val_loss, np.inf))
            ),
            "stopped_epoch": len(history["loss"]) - 1,
            "epochs_run": len(history["loss"]),
            "nonfinite_gamma_steps": adaptive.nonfinite_steps,
            "first_nonfinite_loss_step": adaptive.first_nonfinite_step,
            "wall_seconds": round(wall, 3),
        }
    )
    run_dir.write_metrics(metrics)
    if adaptive.first_nonfinite_step is not None:
        echo(
            f"Training diverged: the batch loss became non-finite at "
            f"optimizer step {adaptive.first_nonfinite_step}; updates from "
            "non-finite batches were skipped and the run stopped "
            + (
                "right after it"
                if train.stop_on_nonfinite == "batch"
                else "at the end of that epoch"
            )
            + ". Everything up to then is in the run directory;"
            " see the advice of `kerastune-lab diagnose` (first: a lower "
            "train.learning_rate)."
        )

    LossAdaptiveLR.remove(model)
    with replaced_atomically(run_dir.model) as tmp:
        (task.export_model or model).save(tmp)
    steps = run_dir.read_steps()
    diagnosis = diagnose_history(
        history,
        record["config"],
        initial_loss=steps["loss"][0],
        no_skill_loss=task.no_skill_eval_loss,
        step_losses=steps["loss"],
    )
    run_dir.write_diagnosis(diagnosis.to_dict())
    with replaced_atomically(run_dir.curves) as tmp:
        plot_curves(
            history,
            steps,
            tmp,
            title=f"{config.name}: {diagnosis.headline}",
            no_skill_loss=task.no_skill_eval_loss,
        )
    run_dir.write_status("complete")
    return RunResult(run_dir.path, metrics, diagnosis, history)
