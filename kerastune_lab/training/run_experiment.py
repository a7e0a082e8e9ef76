"""Trains one experiment and writes its run directory."""

import dataclasses
import math
import time

import keras
import numpy as np

from kerastune_lab.analysis.diagnose_history import diagnose_history
from kerastune_lab.analysis.plot_curves import plot_curves
from kerastune_lab.callbacks.loss_adaptive_lr import LossAdaptiveLR
from kerastune_lab.data import load_text_classification
from kerastune_lab.models import MODEL_BUILDERS
from kerastune_lab.optimizers import build_optimizer
from kerastune_lab.schedules import build_schedule
from kerastune_lab.training.run_directory import (
    create_run_dir,
    environment_info,
    write_json_atomic,
)


@dataclasses.dataclass
class RunResult:
    """What `run_experiment` produced."""

    run_dir: object
    metrics: dict
    diagnosis: object
    history: dict


def build_callbacks(config, run_dir):
    """The run's callbacks, in the order their epoch-end hooks must run."""
    adapt = config.lr_adapt
    callbacks = [
        # First: it adds logs["lr"], which CSVLogger then writes.
        LossAdaptiveLR(
            mode=adapt.mode,
            root=adapt.root,
            source=adapt.source,
            min_gamma=adapt.min_gamma,
            max_gamma=adapt.max_gamma,
            min_factor=adapt.min_factor or None,
            max_factor=adapt.max_factor or None,
            steps_csv=run_dir / "steps.csv",
        ),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv")),
    ]
    train = config.train
    if train.early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=train.monitor,
                patience=train.patience,
                min_delta=train.min_delta,
                restore_best_weights=train.restore_best_weights,
            )
        )
    return callbacks


def compile_model(model, config, steps_per_epoch):
    train = config.train
    total_steps = steps_per_epoch * train.epochs
    rate = build_schedule(
        train.schedule, train.learning_rate, total_steps, train.warmup_steps
    )
    optimizer = build_optimizer(
        train.optimizer,
        rate,
        weight_decay=train.weight_decay,
        momentum=train.momentum,
        clipnorm=train.clipnorm or None,
    )
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile="auto" if train.jit_compile else False,
        steps_per_execution=train.steps_per_execution,
    )


def run_experiment(config, runs_dir="runs", verbose="auto", echo=print,
                   callbacks=()):
    """Trains `config` and writes a run directory.

    Files: config.json (resolved config, versions, backend, seed, data
    sizes), history.csv (per epoch), steps.csv (per optimizer step: that
    step's own batch loss and the rate its update used), metrics.json (test
    split, evaluated once after training), model.keras, diagnosis.json,
    curves.png.

    Args:
        config: An `ExperimentConfig`.
        runs_dir: Parent folder of run directories.
        verbose: Keras progress display (0, 1, 2 or "auto").
        echo: Where to print progress lines.
        callbacks: Extra Keras callbacks, run after the built-in ones.

    Returns:
        A `RunResult`.
    """
    train = config.train
    keras.utils.set_random_seed(train.seed)
    data = load_text_classification(config.data, train.seed)
    run_dir = create_run_dir(runs_dir, config.name)
    record = {
        "config": config.to_dict(),
        "seed": train.seed,
        "data": data.summary(),
        **environment_info(),
    }
    write_json_atomic(run_dir / "config.json", record)
    echo(
        f"Data: {len(data.y_train)} train / {len(data.y_val)} val / "
        f"{len(data.y_test)} test, {data.num_classes} classes"
    )

    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(train.dtype_policy)
    try:
        model = MODEL_BUILDERS[config.model.name](
            vocab_size=data.vocab_size,
            num_classes=data.num_classes,
            **config.model.params,
        )
    finally:
        keras.config.set_dtype_policy(previous_policy)
    steps_per_epoch = math.ceil(len(data.y_train) / train.batch_size)
    compile_model(model, config, steps_per_epoch)
    callbacks = build_callbacks(config, run_dir) + list(callbacks)

    start = time.perf_counter()
    fit = model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=train.epochs,
        batch_size=train.batch_size,
        callbacks=callbacks,
        verbose=verbose,
    )
    history = {k: [float(v) for v in vals] for k, vals in fit.history.items()}
    test = model.evaluate(
        data.x_test, data.y_test, batch_size=train.batch_size,
        verbose=0, return_dict=True,
    )
    wall = time.perf_counter() - start

    adaptive = callbacks[0]
    val_loss = history.get("val_loss") or history["loss"]
    counts = np.bincount(data.y_train, minlength=data.num_classes)
    metrics = {
        "test_loss": float(test["loss"]),
        "test_accuracy": float(test["accuracy"]),
        "majority_class_accuracy": float(
            np.mean(data.y_test == np.argmax(counts))
        ),
        "best_epoch": int(np.nanargmin(val_loss)),
        "stopped_epoch": len(history["loss"]) - 1,
        "epochs_run": len(history["loss"]),
        "nonfinite_gamma_steps": adaptive.nonfinite_steps,
        "wall_seconds": round(wall, 3),
    }
    write_json_atomic(run_dir / "metrics.json", metrics)

    LossAdaptiveLR.remove(model)
    model.save(run_dir / "model.keras")
    diagnosis = diagnose_history(history, record["config"])
    write_json_atomic(run_dir / "diagnosis.json", diagnosis.to_dict())
    plot_curves(
        history, adaptive.steps, run_dir / "curves.png",
        title=f"{config.name}: {diagnosis.verdict}",
    )
    return RunResult(run_dir, metrics, diagnosis, history)
