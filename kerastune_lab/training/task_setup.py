"""A task ready to train: seeded data and model, compiled per phase."""

import dataclasses

import keras

from kerastune_lab.choices import OPTIMIZERS
from kerastune_lab.errors import UserError
from kerastune_lab.families import FAMILIES
from kerastune_lab.optimizers import build_optimizer
from kerastune_lab.schedules import build_schedule
from kerastune_lab.training.determinism import make_deterministic


@dataclasses.dataclass(frozen=True)
class TrainingPhase:
    """One `model.fit` call of a run: epochs [first, end) at `rate`."""

    first: int
    end: int
    learning_rate: float

    @property
    def epochs(self) -> int:
        return self.end - self.first


def training_phases(config) -> list[TrainingPhase]:
    """The phases of `config`: one, or with train.head_epochs the head
    alone and then the fine-tuning at train.fine_tune_learning_rate
    (keras-io's transfer-learning recipe)."""
    train = config.train
    if not train.head_epochs:
        return [TrainingPhase(0, train.epochs, train.learning_rate)]
    return [
        TrainingPhase(0, train.head_epochs, train.learning_rate),
        TrainingPhase(
            train.head_epochs,
            train.epochs,
            train.fine_tune_learning_rate or train.learning_rate / 10,
        ),
    ]


def prepare_task(config):
    """Seeds, loads the data and builds the model of `config` (uncompiled):
    the family's `PreparedTask`."""
    make_deterministic(config.train.seed, config.train.deterministic)
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(config.train.dtype_policy)
    try:
        return FAMILIES[config.model.name].prepare(config)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def compile_model(task, config, learning_rate=None, epochs=None):
    """Compiles the task's model with the configured optimizer, whose
    schedule spans `epochs` (default train.epochs) from `learning_rate`
    (default train.learning_rate)."""
    train = config.train
    total_steps = task.steps_per_epoch * (epochs or train.epochs)
    choice = OPTIMIZERS[train.optimizer]
    try:
        rate = build_schedule(
            train.schedule,
            learning_rate or train.learning_rate,
            total_steps,
            0 if choice.warms_up_itself else train.warmup_steps,
        )
    except ValueError as error:
        raise UserError(
            f"train.warmup_steps = {train.warmup_steps}: {error}"
        ) from None
    optimizer = build_optimizer(
        train.optimizer,
        rate,
        clipnorm=train.clipnorm or None,
        **choice.config_values(config),
    )
    task.model.compile(
        optimizer=optimizer,
        loss=task.loss,
        metrics=task.metrics,
        weighted_metrics=task.weighted_metrics,
        jit_compile="auto" if train.jit_compile else False,
        steps_per_execution=train.steps_per_execution,
    )
