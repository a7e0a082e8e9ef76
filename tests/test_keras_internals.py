"""The Keras internals kerastune-lab relies on, checked one by one.

The SD/SD2 loss probe, its optimizer wrapper, the schedule-free evaluation
and the two-phase fit use private parts of Keras. setup.cfg bounds keras
to the versions this file has passed on; when a new Keras moves one of
these, this file fails with the name of what moved, before anything else
gives a wrong result.
"""

import importlib

import keras
import pytest


def small_model():
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(
                2, kernel_regularizer=keras.regularizers.L2(0.1)
            ),
        ]
    )
    model.compile(keras.optimizers.SGD(0.1), "mse")
    return model


MODEL_ATTRIBUTES = [
    ("_tracker", "the probe unlocks it to track its variable"),
    ("_track_variable", "LossProbe.attach"),
    ("_untrack_variable", "LossProbe.detach"),
    ("_trainable_variables", "the probe's save/load of own variables"),
    ("_non_trainable_variables", "the probe's save/load of own variables"),
    ("_aggregate_additional_loss", "G is the data loss: penalties removed"),
]
OPTIMIZER_ATTRIBUTES = [
    ("_get_current_learning_rate", "the SD factor scales the rate here"),
    ("_learning_rate", "a schedule or a float rate"),
    ("_trainable_variables", "ScheduleFreeEvaluation"),
    ("_get_variable_index", "ScheduleFreeEvaluation"),
    ("_variables", "the wrapper's own variables"),
]


@pytest.mark.parametrize("name, why", MODEL_ATTRIBUTES)
def test_model_internals(name, why):
    model = small_model()
    assert hasattr(model, name), (
        f"keras {keras.__version__}: Model.{name} is gone ({why}); "
        "kerastune_lab/callbacks/loss_probe.py needs updating"
    )


def test_tracker_locks():
    tracker = small_model()._tracker
    for method in ("lock", "unlock"):
        assert callable(getattr(tracker, method, None)), (
            f"keras {keras.__version__}: Model._tracker.{method} is gone"
        )
    assert isinstance(tracker.locked, bool)


def test_model_compute_loss_is_trainer_compute_loss():
    # LossProbe._data_loss subtracts model.losses only when compute_loss is
    # Keras's own (which adds them).
    assert "self.losses" in importlib.import_module("inspect").getsource(
        keras.Model.compute_loss
    ), (
        f"keras {keras.__version__}: Model.compute_loss no longer adds "
        "model.losses the way LossProbe._data_loss assumes"
    )


@pytest.mark.parametrize("name, why", OPTIMIZER_ATTRIBUTES)
def test_optimizer_internals(name, why):
    model = small_model()
    model.optimizer.build(model.trainable_variables)
    assert hasattr(model.optimizer, name), (
        f"keras {keras.__version__}: Optimizer.{name} is gone ({why}); "
        "kerastune_lab/optimizers/loss_adaptive_optimizer.py needs updating"
    )


def test_schedule_free_slots():
    optimizer = keras.optimizers.ScheduleFreeAdamW(1e-3)
    variable = keras.Variable([1.0, 2.0])
    optimizer.build([variable])
    assert (
        hasattr(optimizer, "_momentums") and len(optimizer._momentums) == 1
    ), (
        f"keras {keras.__version__}: ScheduleFreeAdamW._momentums moved; "
        "kerastune_lab/callbacks/schedule_free_evaluation.py needs updating"
    )
    assert hasattr(optimizer, "beta_1")


@pytest.mark.parametrize(
    "module, name",
    [
        ("keras.src.losses.loss", "unscale_loss_for_distribution"),
        ("keras.src.utils.tracking", "no_automatic_dependency_tracking"),
    ],
)
def test_private_functions(module, name):
    found = getattr(importlib.import_module(module), name, None)
    assert callable(found), (
        f"keras {keras.__version__}: {module}.{name} is gone"
    )


def test_fit_reads_initial_epoch_from_the_model():
    # run_experiment resets model._initial_epoch between training phases:
    # BackupAndRestore leaves the restored epoch there and fit prefers it.
    source = importlib.import_module("inspect").getsource(
        type(small_model()).fit
    )
    assert "_initial_epoch" in source, (
        f"keras {keras.__version__}: fit no longer reads "
        "model._initial_epoch; revisit training_phases in run_experiment"
    )
