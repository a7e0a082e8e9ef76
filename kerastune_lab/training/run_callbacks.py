"""The Keras callbacks of one training phase of a run."""

import keras

from kerastune_lab.callbacks.epoch_backup import EpochBackup
from kerastune_lab.callbacks.epoch_seeding import EpochSeeding
from kerastune_lab.callbacks.history_csv import HistoryCSV
from kerastune_lab.callbacks.loss_adaptive_lr import LossAdaptiveLR
from kerastune_lab.callbacks.perplexity_logger import PerplexityLogger
from kerastune_lab.callbacks.resumable_early_stopping import (
    ResumableEarlyStopping,
)
from kerastune_lab.callbacks.schedule_free_evaluation import (
    ScheduleFreeEvaluation,
)
from kerastune_lab.callbacks.tensorboard_steps import TensorBoardSteps
from kerastune_lab.config.experiment_config import STUDY_SECTIONS
from kerastune_lab.lr_adapt.registry import config_settings
from kerastune_lab.run_directory import keep_epochs_before


def flat_hyperparameters(config):
    """{section.key: value} of the resolved config, as TensorBoard's
    HParams plugin takes them (numbers, strings, booleans)."""
    flat = {}
    for section, values in config.to_dict().items():
        if section in STUDY_SECTIONS:
            continue
        for key, value in values.items():
            flat[f"{section}.{key}"] = (
                value
                if isinstance(value, (bool, int, float, str))
                else str(value)
            )
    return flat


def loss_adaptive_callback(config, run_dir, task, first_epoch=0):
    """The run's `LossAdaptiveLR`: its rate rule (none, SD, SD2, Polyak)
    with the [lr_adapt] settings, and the per-step log
    into steps.csv, numbered on from the phases before `first_epoch`."""
    adapt = config.lr_adapt
    return LossAdaptiveLR(
        mode=adapt.mode,
        source=task.gamma_source or adapt.source,
        steps_csv=run_dir.steps,
        step_offset=first_epoch * task.steps_per_epoch,
        **config_settings(adapt),
    )


def phase_callbacks(
    config,
    run_dir,
    task,
    loss_adaptive,
    resume_epoch=0,
    first_epoch=0,
    early_stopping=True,
):
    """The callbacks of one training phase, in the order their epoch-end
    hooks must run.

    A resumed run (resume_epoch > 0) keeps the history and step rows of
    the epochs it does not redo. A phase that starts at `first_epoch` > 0
    (the fine-tuning phase of a two-phase run) continues the step count
    of the phases before it.

    Args:
        loss_adaptive: The phase's `LossAdaptiveLR`
            (`loss_adaptive_callback`); first, since it adds logs["lr"].
        early_stopping: Whether this phase may stop early (the last one).
    """
    train = config.train
    keep_before = max(resume_epoch, first_epoch)
    history_rows = keep_epochs_before(run_dir.history, keep_before)
    keep_epochs_before(run_dir.steps, keep_before)
    callbacks = [
        loss_adaptive,
        *([PerplexityLogger()] if task.perplexity else []),
        # Does nothing unless the optimizer averages its weights.
        ScheduleFreeEvaluation(),
        HistoryCSV(run_dir.history, history_rows),
        EpochSeeding(train.seed),
    ]
    if train.tensorboard:
        callbacks += _tensorboard(config, run_dir, loss_adaptive)
    if train.stop_on_nonfinite == "batch":
        callbacks.append(keras.callbacks.TerminateOnNaN())
    if train.early_stopping and early_stopping:
        callbacks.append(
            _early_stopping(
                train,
                run_dir,
                resume_epoch if resume_epoch > first_epoch else 0,
            )
        )
    # Last, so an epoch is backed up only once everything about it is
    # written: weights, optimizer state (its step drives the schedule) and
    # epoch. Data order and dropout depend on (seed, epoch) alone.
    callbacks.append(EpochBackup(run_dir.backup))
    return callbacks


def _tensorboard(config, run_dir, loss_adaptive):
    """Keras's per-epoch TensorBoard logs and the per-step ones."""
    logs = run_dir.tensorboard
    return [
        keras.callbacks.TensorBoard(str(logs), write_graph=False),
        TensorBoardSteps(
            logs / "steps", loss_adaptive, flat_hyperparameters(config)
        ),
    ]


def _early_stopping(train, run_dir, resume_epoch):
    """Early stopping by `[train]`, its state backed up with the run's."""
    return ResumableEarlyStopping(
        run_dir.backup,
        resume_epoch,
        monitor=train.monitor,
        patience=train.patience,
        min_delta=train.min_delta,
        restore_best_weights=train.restore_best_weights,
    )
