"""lr-find: the learning-rate range test of an experiment, written out."""

import dataclasses
import pathlib

from kerastune_lab.analysis.learning_rate_range import (
    lr_range_test,
    plot_range_test,
)
from kerastune_lab.choices import OPTIMIZERS
from kerastune_lab.errors import UserError
from kerastune_lab.run_directory import (
    create_run_dir,
    write_json_atomic,
    write_text_atomic,
)
from kerastune_lab.training.task_setup import compile_model, prepare_task

# The files of an lr-find folder.
RESULT_JSON = "lr_find.json"
RESULT_CSV = "lr_find.csv"
RESULT_PLOT = "lr_find.png"


def find_learning_rate(
    config, runs_dir="runs", min_lr=1e-7, max_lr=10.0, steps=100
):
    """Runs the range test on an experiment's model and data and writes it.

    The sweep sets each step's rate itself: the experiment's schedule and
    warmup are replaced by a constant rate, and the model is not kept.

    Args:
        config: The `ExperimentConfig` (its train.optimizer sets a rate,
            not one that reads the loss).
        runs_dir: Where the new folder `<time>-lr-find-<name>-<id>` goes.
        min_lr, max_lr, steps: The sweep (`lr_range_test`).

    Returns:
        (`RangeTestResult`, the folder), which holds lr_find.json (the
        result), lr_find.csv (lr, loss, smoothed_loss per step) and
        lr_find.png (the plot).

    Raises:
        UserError: The optimizer sets each step's rate from the loss.
    """
    if OPTIMIZERS[config.train.optimizer].reads_loss:
        raise UserError(
            f"lr-find sweeps a fixed rate; train.optimizer = "
            f"{config.train.optimizer!r} sets each step from the loss "
            "(its learning_rate is only a cap). Run lr-find with the "
            'optimizer it builds on, e.g. --set train.optimizer="sgd".'
        )
    train = dataclasses.replace(
        config.train, schedule="constant", warmup_steps=0
    )
    config = dataclasses.replace(config, train=train)
    task = prepare_task(config)
    compile_model(task, config)
    data = task.fit_data
    result = lr_range_test(
        task.model,
        data["x"],
        data.get("y"),
        data.get("batch_size"),
        min_lr,
        max_lr,
        steps,
    )
    folder = create_run_dir(runs_dir, f"lr-find-{config.name}")
    _write(result, folder, f"{config.name}: learning-rate range test")
    return result, folder


def _write(result, folder, title):
    folder = pathlib.Path(folder)
    write_json_atomic(folder / RESULT_JSON, result.to_dict())
    rows = ["lr,loss,smoothed_loss"] + [
        f"{rate:.6g},{loss:.6g},{smooth:.6g}"
        for rate, loss, smooth in zip(
            result.rates, result.losses, result.smoothed
        )
    ]
    write_text_atomic(folder / RESULT_CSV, "\n".join(rows) + "\n")
    plot_range_test(result, folder / RESULT_PLOT, title=title)
