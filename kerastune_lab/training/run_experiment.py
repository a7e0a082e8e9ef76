"""Trains one experiment and writes its run directory."""

import keras

from kerastune_lab.callbacks.loss_adaptive_lr import SUPPORTED_BACKENDS
from kerastune_lab.errors import UserError
from kerastune_lab.run_directory import create_run_dir
from kerastune_lab.training.data_parallel import data_parallel_scope
from kerastune_lab.training.experiment_runner import (
    ExperimentRunner,
    RunResult,
)


def run_experiment(
    config,
    runs_dir="runs",
    verbose="auto",
    echo=print,
    callbacks=(),
    run_dir=None,
    resume=False,
    edit_model=None,
) -> RunResult:
    """Trains `config` and writes a run directory (`ExperimentRunner`).

    Files (`RunDirectory`): status.json ("running" until the run ends),
    config.json (resolved config, versions, backend, seed, data sizes),
    history.csv, steps.csv (each step's own batch loss and the rate its
    update used), metrics.json (the test split, evaluated once after
    training), model.keras, diagnosis.json, curves.png.

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

    Example:

    >>> import tempfile
    >>> from kerastune_lab.config import load_experiment
    >>> config = load_experiment(None, [
    ...     'data.name="synthetic"', "data.num_samples=120",
    ...     "train.epochs=1", "model.gru_units=4"])
    >>> result = run_experiment(config, tempfile.mkdtemp(), verbose=0,
    ...                         echo=lambda line: None)
    >>> sorted(result.metrics)[:3]
    ['best_epoch', 'epochs_run', 'first_nonfinite_loss_step']
    """
    _check_backend()
    if run_dir is None:
        run_dir = create_run_dir(runs_dir, config.name)
    return _run_in_scope(
        config,
        run_dir,
        resume=resume,
        verbose=verbose,
        echo=echo,
        callbacks=callbacks,
        edit_model=edit_model,
    )


def _run_in_scope(config, run_dir, **options):
    """Runs the `ExperimentRunner` inside the distribution scope of
    train.data_parallel (a null scope without it)."""
    scope, replicas = data_parallel_scope(config.train)
    with scope:
        return ExperimentRunner(
            config, run_dir, replicas=replicas, **options
        ).run()


def _check_backend():
    if keras.backend.backend() not in SUPPORTED_BACKENDS:
        raise UserError(
            f"kerastune-lab trains on the {' and '.join(SUPPORTED_BACKENDS)} "
            f"backends; KERAS_BACKEND is {keras.backend.backend()!r}, where "
            "the per-step log and SD/SD2 are untested. Set "
            "KERAS_BACKEND=tensorflow (the default) or KERAS_BACKEND=jax."
        )
