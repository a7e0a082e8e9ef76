"""The Keras internals kerastune-lab relies on, checked one by one.

The loss probe, its optimizer wrapper, MoMo, the schedule-free optimizer
and the two-phase fit reach Keras's private parts only through
`kerastune_lab.keras_internals`; each of its functions is
checked here by what it does. setup.cfg bounds keras to
the versions this file has passed on; when a new Keras moves one of
these, this file fails with the name of what moved, before anything else
gives a wrong result.
"""

import pathlib

import keras
import numpy as np
import pytest

from kerastune_lab import keras_internals
from kerastune_lab.callbacks.epoch_backup import EpochBackup


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


# -- kerastune_lab.keras_internals, one behaviour each ----------------------


def built_model(regularizer=0.1):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(
                2, kernel_regularizer=keras.regularizers.L2(regularizer)
            ),
        ]
    )
    model.compile(keras.optimizers.SGD(0.1), "mse")
    return model


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)


def test_a_tracked_variable_becomes_a_trainable_weight_of_the_model():
    model = Subclassed()
    model(np.ones((1, 3), "float32"))
    # Built: Keras refuses new state set as an attribute.
    with pytest.raises(ValueError, match="already built"):
        model.extra = keras.Variable([0.0, 0.0])
    extra = keras.Variable([0.0, 0.0], name="extra")
    keras_internals.track_variable(model, extra)
    assert any(v is extra for v in model.trainable_variables)
    assert [v is extra for v in keras_internals.own_variables(model)] == [True]
    with pytest.raises(ValueError, match="already built"):
        model.other = keras.Variable(1.0)  # still locked
    keras_internals.untrack_variable(model, extra)
    assert not any(v is extra for v in model.trainable_variables)
    assert keras_internals.own_variables(model) == []


def test_own_variables_are_a_layers_own_in_save_order():
    dense = keras.layers.Dense(2)
    dense.build((None, 3))
    assert [v.path for v in keras_internals.own_variables(dense)] == [
        v.path for v in dense.weights
    ]


def test_an_untracked_attribute_holds_a_variable_the_model_does_not_own():
    model = built_model()
    hidden = keras.Variable(1.0, name="hidden")
    keras_internals.set_untracked_attribute(model, "hidden", hidden)
    assert model.hidden is hidden
    assert not any(v is hidden for v in model.weights)
    keras_internals.delete_untracked_attribute(model, "hidden")
    assert not hasattr(model, "hidden")


def test_additional_losses_aggregate_to_the_penalty_compute_loss_adds():
    model = built_model(regularizer=0.3)
    x = np.ones((4, 3), "float32")
    y = np.zeros((4, 2), "float32")
    y_pred = model(x)
    kernel = keras.ops.convert_to_numpy(model.layers[0].kernel)
    penalty = sum(
        float(keras_internals.aggregate_additional_loss(model, loss))
        for loss in model.losses
    )
    assert penalty == pytest.approx(0.3 * np.sum(kernel**2), rel=1e-5)
    # Model.compute_loss is the compiled (data) loss plus that penalty: the
    # probe subtracts it to get the data loss.
    total = float(model.compute_loss(x=x, y=y, y_pred=y_pred))
    data = float(np.mean(keras.ops.convert_to_numpy(y_pred) ** 2))
    assert total == pytest.approx(data + penalty, rel=1e-5)


def test_unscale_undoes_the_replica_scaling(mirrored_results):
    # 2 logical CPUs under MirroredStrategy: a replica's loss is scaled by
    # 1 / 2 in the train step; unscaling multiplies by 2 in each replica.
    assert mirrored_results["unscaled_one"] == [2.0, 2.0]
    assert float(keras_internals.unscale_loss_for_distribution(3.0)) == 3.0


def sgd_step(optimizer, value=1.0, grad=1.0):
    variable = keras.Variable([value])
    optimizer.apply([keras.ops.convert_to_tensor([grad])], [variable])
    return float(keras.ops.convert_to_numpy(variable)[0])


def test_the_replaced_rate_getter_is_the_one_the_update_reads():
    optimizer = keras.optimizers.AdamW(0.1, weight_decay=0.5)
    own = keras_internals.scheduled_rate_getter(optimizer)
    keras_internals.replace_rate_getter(optimizer, lambda: 0.0 * own())
    # Rate 0: neither Adam's step nor AdamW's decoupled decay moves it.
    assert sgd_step(optimizer) == 1.0
    assert float(optimizer.learning_rate) == 0.0
    keras_internals.restore_rate_getter(optimizer)
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5)
    sgd = keras.optimizers.SGD(schedule)
    keras_internals.replace_rate_getter(
        sgd, lambda: 2 * keras_internals.scheduled_rate_getter(sgd)()
    )
    assert sgd_step(sgd) == pytest.approx(1.0 - 2 * 0.1)
    assert keras_internals.raw_learning_rate(sgd) is schedule


def test_built_variables_and_their_indices():
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    variables = [keras.Variable([1.0]), keras.Variable([2.0, 3.0])]
    optimizer.build(variables)
    built = keras_internals.built_trainable_variables(optimizer)
    assert [v is w for v, w in zip(built, variables)] == [True, True]
    assert keras_internals.variable_index(optimizer, variables[1]) == 1


def test_clip_gradients_clips_as_the_optimizer_is_configured():
    optimizer = keras.optimizers.SGD(0.1, global_clipnorm=1.0)
    grads = [keras.ops.convert_to_tensor(g) for g in ([3.0], [4.0, 0.0])]
    clipped = keras_internals.clip_gradients(optimizer, grads)
    np.testing.assert_allclose(
        np.concatenate([keras.ops.convert_to_numpy(g) for g in clipped]),
        [0.6, 0.8, 0.0],
        rtol=1e-6,
    )


def test_weight_decay_exclusions_are_visible():
    optimizer = keras.optimizers.AdamW(0.1, weight_decay=0.1)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    kernel = keras.Variable([1.0], name="kernel")
    bias = keras.Variable([1.0], name="bias")
    assert keras_internals.uses_weight_decay(optimizer, kernel)
    assert not keras_internals.uses_weight_decay(optimizer, bias)


def test_forgetting_the_restored_epoch_lets_fit_start_where_asked(tmp_path):
    """A backup's restored epoch (set_restored_epoch, as Keras's
    BackupAndRestore does) stays on the model and the next fit starts
    there, whatever its initial_epoch says; after forget_restored_epoch it
    starts at initial_epoch."""
    x, y = np.ones((8, 3)), np.ones((8, 2))

    class Epochs(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_epoch_begin(self, epoch, logs=None):
            self.seen.append(epoch)

    # A crash after epoch 1 of 3: the backup holds epoch 1 and stays.
    interrupted = built_model()

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("crash")

    crash_backup = EpochBackup(tmp_path / "c")
    with pytest.raises(RuntimeError):
        interrupted.fit(
            x, y, epochs=3, verbose=0, callbacks=[crash_backup, Crash()]
        )
    restoring = EpochBackup(tmp_path / "c")
    seen = Epochs()
    interrupted.fit(x, y, epochs=3, verbose=0, callbacks=[restoring, seen])
    assert seen.seen == [2]  # resumed after the restored epoch
    later = Epochs()
    interrupted.fit(
        x, y, initial_epoch=0, epochs=1, verbose=0, callbacks=[later]
    )
    assert later.seen == []  # the restored epoch still wins
    keras_internals.forget_restored_epoch(interrupted)
    interrupted.fit(
        x, y, initial_epoch=0, epochs=1, verbose=0, callbacks=[later]
    )
    assert later.seen == [0]


def test_a_preset_file_is_found_in_a_local_folder_or_refused(tmp_path):
    (tmp_path / "assets" / "tokenizer").mkdir(parents=True)
    vocabulary = tmp_path / "assets" / "tokenizer" / "vocabulary.txt"
    vocabulary.write_text("[PAD]\n")
    found = keras_internals.preset_file(
        str(tmp_path), "assets/tokenizer/vocabulary.txt"
    )
    assert pathlib.Path(found).resolve() == vocabulary.resolve()
    with pytest.raises(FileNotFoundError):
        keras_internals.preset_file(str(tmp_path), "config.json")
