import keras
import numpy as np
import pytest
import sd_scenarios  # tests/ is on sys.path (rootdir conftest)

from kerastune_lab.callbacks import LossAdaptiveLR
from kerastune_lab.choices import OPTIMIZERS
from kerastune_lab.lr_adapt.loss_probe import LossProbe
from kerastune_lab.lr_adapt.registry import matched_rate_modes
from kerastune_lab.optimizers import LossAdaptiveOptimizer

LOSS_READING_OPTIMIZERS = tuple(
    name for name, choice in OPTIMIZERS.items() if choice.reads_loss
)


def check_replay(result, epochs=3):
    assert result["steps"] == epochs * 4 and result["step_ids_ok"]
    assert result["weight_err"] < 1e-6
    assert result["loss_rel_err"] < 1e-5
    assert result["rate_rel_err"] < 1e-5
    # Polyak: its logged ||g||^2, and steps on both sides of the cap.
    assert result["grad_norm_sq_rel_err"] < 1e-5
    if "polyak" in result["mode"]:
        assert 0 < result["capped_steps"] < result["steps"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"jit": False},
        {"steps_per_execution": 3},
        {"mode": "sd", "root": 4.0},
        {"mode": "none"},
        {"mode": "polyak", "rate": 0.5, "noise": 1.0},
    ],
)
def test_sgd_matches_numpy_replay(kwargs):
    check_replay(sd_scenarios.sgd_replay(**kwargs))


def check_formula(result, policy="float32"):
    """Logged G, loss and rate against a NumPy forward pass at each step's
    weights (bf16 computes G in bfloat16: about 3 significant digits)."""
    tolerance = 1e-5 if policy == "float32" else 3e-2
    assert result["steps"] == 30 and result["losses_finite"]
    for key in ("gamma_rel_err", "loss_rel_err", "rate_rel_err"):
        assert result[key] < tolerance, (key, result)


@pytest.mark.parametrize(
    "mode, root, policy",
    [
        ("sd2", 3.0, "float32"),
        ("sd", 3.0, "float32"),
        ("sd2", 4.0, "float32"),
        ("sd", 4.0, "float32"),
        ("sd2", 3.0, "mixed_bfloat16"),
    ],
)
def test_rates_follow_the_formula(mode, root, policy):
    check_formula(sd_scenarios.formula_check(mode, root, policy), policy)


def test_gamma_is_the_data_loss_under_l2():
    """With a large L2 penalty the logged loss is cross-entropy + penalty
    while G (the gamma column, and the rate) is the cross-entropy alone."""
    result = sd_scenarios.formula_check("sd2", 3.0, l2=0.5)
    check_formula(result)


def test_jax_backend_matches_numpy(jax_results):
    results = jax_results
    assert results["backend"] == "jax"
    for name in (
        "replay_jit",
        "replay_no_jit",
        "replay_spe3",
        "replay_sd_root4",
        "replay_polyak",
    ):
        check_replay(results[name])
    for name in ("formula_sd2", "formula_sd_root4", "formula_l2"):
        check_formula(results[name])
    check_formula(results["formula_bf16"], "mixed_bfloat16")


def small_classifier(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def sgd_classifier():
    model = small_classifier()
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss="sparse_categorical_crossentropy",
    )
    return model


def classification_data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (np.abs(x[:, 0]) * 2).astype("int32").clip(0, 2)


def test_mode_none_trains_exactly_like_plain_keras_with_clip_and_decay():
    # Weight decay and gradient clipping must never see the probe: with the
    # factor at 1 the weights are bit-for-bit those of a plain fit.
    x, y = classification_data()
    weights = []
    for callbacks in ([], [LossAdaptiveLR(mode="none")]):
        model = small_classifier()
        model.compile(
            optimizer=keras.optimizers.AdamW(
                1e-2, weight_decay=0.1, global_clipnorm=0.5
            ),
            loss="sparse_categorical_crossentropy",
        )
        model.fit(
            x,
            y,
            batch_size=16,
            epochs=2,
            shuffle=False,
            verbose=0,
            callbacks=callbacks,
        )
        LossAdaptiveLR.remove(model)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_sd2_changes_training_and_logs_running_mean_free_losses():
    x, y = classification_data()
    model = sgd_classifier()
    callback = LossAdaptiveLR(mode="sd2")
    history = model.fit(
        x,
        y,
        batch_size=16,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[callback],
    )
    losses = callback.steps["loss"]
    # logs["loss"] is the running mean; the epoch value is the mean of the
    # batch losses, and the factors follow the batches, not the mean.
    assert history.history["loss"][0] == pytest.approx(
        np.mean(losses), rel=1e-5
    )
    np.testing.assert_allclose(
        callback.steps["factor"], np.cbrt(losses), rtol=1e-5
    )


def test_gamma_clamp_and_factor_cap():
    x, y = classification_data()
    model = sgd_classifier()
    # Every G is below min_gamma = 50, so SD's factor is 50 ** (-1/3).
    low = LossAdaptiveLR(mode="sd", min_gamma=50.0, max_gamma=100.0)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[low])
    np.testing.assert_allclose(low.steps["factor"], 50 ** (-1 / 3), rtol=1e-6)
    capped = LossAdaptiveLR(mode="sd", min_gamma=1e-6, max_factor=1.5)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[capped])
    assert max(capped.steps["factor"]) <= 1.5 + 1e-6


def test_nonfinite_gamma_keeps_the_scheduled_rate_and_is_counted():
    x, y = classification_data()
    model = sgd_classifier()

    def every_other_nan(loss, y, y_pred, sample_weight):
        # NaN exactly when the batch's first label is 0: data-dependent.
        first = keras.ops.cast(y[0], "float32")
        return keras.ops.where(first == 0.0, float("nan"), loss)

    callback = LossAdaptiveLR(mode="sd2", source=every_other_nan)
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[callback],
    )
    gammas = np.array(callback.steps["gamma"])
    bad = ~np.isfinite(gammas)
    assert 0 < bad.sum() < len(gammas)
    np.testing.assert_array_equal(np.array(callback.steps["factor"])[bad], 1.0)
    np.testing.assert_allclose(np.array(callback.steps["lr"])[bad], 0.1)
    assert callback.nonfinite_steps == bad.sum()
    assert np.all(
        np.isfinite(np.concatenate([w.ravel() for w in model.get_weights()]))
    )


def test_reduce_lr_on_plateau_scales_the_base_rate():
    x, y = classification_data()
    model = sgd_classifier()
    reduce = keras.callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=0, min_delta=10.0
    )
    callback = LossAdaptiveLR(mode="sd2")
    model.fit(
        x, y, batch_size=16, epochs=4, verbose=0, callbacks=[callback, reduce]
    )
    steps = callback.steps
    scheduled = np.array(steps["lr"]) / np.array(steps["factor"])
    # min_delta=10: epoch 0 sets the best, then every epoch halves the base
    # rate, and the SD2 factor still applies on top of each.
    np.testing.assert_allclose(
        scheduled, np.repeat([0.1, 0.1, 0.05, 0.025], 4), rtol=1e-5
    )
    assert not np.allclose(steps["factor"], 1.0)


def test_schedule_with_reduce_lr_on_plateau_is_refused_clearly():
    x, y = classification_data()
    model = small_classifier()
    model.compile(
        optimizer=keras.optimizers.SGD(
            keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
        ),
        loss="sparse_categorical_crossentropy",
    )
    reduce = keras.callbacks.ReduceLROnPlateau(
        monitor="loss", patience=0, min_delta=10.0
    )
    with pytest.raises(TypeError, match="ReduceLROnPlateau"):
        model.fit(
            x,
            y,
            batch_size=16,
            epochs=2,
            verbose=0,
            callbacks=[LossAdaptiveLR(), reduce],
        )


def check_model_after_fit(result):
    """After fit the model is the one the user built: its weights without
    the probe, its own optimizer, a reloadable file; a next fit with the
    same callback reuses the compiled step and continues the step count."""
    dense_5_8_1 = [[5, 8], [8], [8, 1], [1]]
    assert result["shapes"] == result["built_shapes"] == dense_5_8_1
    assert not any("probe" in name for name in result["weight_names"])
    assert result["optimizer"] == "Adam"
    assert result["fresh_diff"] < 1e-6 and result["reloaded_diff"] < 1e-6
    # 4 steps per epoch; EarlyStopping stopped the first fit after 2.
    assert result["steps"] == list(range(12))
    assert result["compiled_step_reused"]


def test_model_after_fit_is_the_model_the_user_built(tmp_path):
    check_model_after_fit(sd_scenarios.model_after_fit(tmp_path))


def test_model_after_fit_on_jax(jax_results):
    check_model_after_fit(jax_results["model_after_fit"])


@pytest.mark.parametrize("stop_first", [False, True])
def test_early_stopping_restores_best_weights_with_the_probe_attached(
    stop_first,
):
    """EarlyStopping keeps the best epoch's weights while the probe is one
    of the model's trainable variables: the model ends with epoch 0's
    weights, not epoch 1's, and without the probe (it never trains),
    whichever callback ends first."""
    x, y = classification_data()
    model = small_classifier()
    model.compile(
        optimizer=keras.optimizers.SGD(0.5),
        loss="sparse_categorical_crossentropy",
    )

    def weights():
        return {v.path: keras.ops.convert_to_numpy(v) for v in model.weights}

    snapshots = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(weights())

    # min_delta 10: epoch 0 is the best, epoch 1 cannot improve on it.
    stop = keras.callbacks.EarlyStopping(
        monitor="loss", patience=0, min_delta=10.0, restore_best_weights=True
    )
    history = model.fit(
        x,
        y,
        batch_size=16,
        epochs=5,
        verbose=0,
        callbacks=[LossAdaptiveLR(mode="sd2"), Snapshot(), stop][
            :: -1 if stop_first else 1
        ],
    )
    assert len(history.history["loss"]) == 2  # stopped after epoch 1
    first, second = snapshots
    final = weights()
    (probe,) = set(first) - set(final)
    assert "probe" in probe and LossProbe.get(model) is None
    np.testing.assert_array_equal(first[probe], [0, 0])
    for path, kept in final.items():
        np.testing.assert_array_equal(kept, first[path])
        assert not np.array_equal(first[path], second[path]), path


def test_save_and_load_model_round_trip(tmp_path):
    x, y = classification_data()
    model = small_classifier()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=1,
        verbose=0,
        callbacks=[LossAdaptiveLR(mode="sd2")],
    )
    # Mid-fit too, model.save stores the model without the probe.
    LossProbe.attach(model, None)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )
    # The reloaded optimizer is the compiled Adam, with its moments.
    assert type(loaded.optimizer) is keras.optimizers.Adam
    assert int(loaded.optimizer.iterations.numpy()) == 4
    loaded.fit(
        x,
        y,
        batch_size=16,
        epochs=1,
        verbose=0,
        callbacks=[LossAdaptiveLR(mode="sd")],
    )
    # Removing (after a failed fit) restores the model exactly.
    LossAdaptiveLR.remove(model)
    assert LossProbe.get(model) is None
    assert len(model.trainable_variables) == 4
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)


def test_callback_and_optimizer_serialize():
    """What comes back from get_config trains the same: the same rates
    every step, and the same weights, as the original objects."""
    x, y = classification_data()

    def trained(callback, optimizer):
        model = small_classifier()
        model.compile(
            optimizer=optimizer, loss="sparse_categorical_crossentropy"
        )
        model.fit(
            x, y, batch_size=16, epochs=2, verbose=0, callbacks=[callback]
        )
        return callback.steps["lr"], model.get_weights()

    # A cap that binds (G^(1/4) of a 3-class loss is about 1.02): a
    # setting lost on the way would change the rates.
    callback = LossAdaptiveLR(mode="sd2", root=4, max_factor=1.01)
    inner = keras.optimizers.AdamW(1e-2, weight_decay=0.1, beta_1=0.8)
    rates, weights = trained(callback, inner)
    assert np.isclose(callback.steps["factor"], 1.01).any()
    again = LossAdaptiveLR(**callback.get_config())
    restored_inner = keras.optimizers.deserialize(
        keras.optimizers.serialize(
            keras.optimizers.AdamW(1e-2, weight_decay=0.1, beta_1=0.8)
        )
    )
    rates_again, weights_again = trained(again, restored_inner)
    np.testing.assert_array_equal(rates, rates_again)
    for a, b in zip(weights, weights_again):
        np.testing.assert_array_equal(a, b)
    # The wrapper round-trips with its mode, root and inner optimizer's
    # hyperparameters: one update from the same state gives one result.
    optimizer = LossAdaptiveOptimizer(
        keras.optimizers.AdamW(1e-3, beta_1=0.7), mode="sd", root=4
    )
    restored = keras.optimizers.deserialize(
        keras.optimizers.serialize(optimizer)
    )
    assert isinstance(restored, LossAdaptiveOptimizer)
    results = []
    for opt in (optimizer, restored):
        variable = keras.Variable([1.0, -2.0])
        opt.apply([keras.ops.convert_to_tensor([0.5, 0.25])], [variable])
        results.append(keras.ops.convert_to_numpy(variable))
    np.testing.assert_array_equal(*results)
    assert (restored.mode, restored.inner_optimizer.beta_1) == ("sd", 0.7)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "sd3"}, "mode"),
        ({"root": 0}, "root"),
        ({"root": float("nan")}, "root"),
        ({"min_gamma": -1}, "min_gamma"),
        ({"min_gamma": 10, "max_gamma": 1}, "must not exceed"),
        ({"max_factor": 0}, "max_factor"),
        ({"source": "semantics"}, "Unknown G source"),
    ],
)
def test_bad_arguments_say_what_was_received(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LossAdaptiveLR(**kwargs)


def test_mixed_float16_is_refused_with_advice():
    x, y = classification_data()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = small_classifier()
    finally:
        keras.config.set_dtype_policy("float32")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="mixed_bfloat16"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[LossAdaptiveLR()])


def test_repeated_fits_keep_the_compiled_step_unless_settings_change():
    x, y = classification_data()
    model = sgd_classifier()
    compiled = []

    class Spy(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            compiled.append(self.model.train_function)

    callback = LossAdaptiveLR(mode="sd2")
    for _ in range(2):
        model.fit(
            x,
            y,
            batch_size=16,
            epochs=1,
            verbose=0,
            callbacks=[callback, Spy()],
        )
    assert compiled[-1] is compiled[0]
    assert callback.steps["step"] == list(range(8))
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=1,
        verbose=0,
        callbacks=[LossAdaptiveLR(mode="sd"), Spy()],
    )
    assert compiled[-1] is not compiled[0]


class VariableSnapshots(keras.callbacks.Callback):
    """Every weight and optimizer slot before and after each batch."""

    def __init__(self):
        super().__init__()
        self.begin, self.end = {}, {}

    def _values(self):
        optimizer = self.model.optimizer
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        variables = list(self.model.trainable_variables) + [
            v for v in inner.variables if v is not inner.iterations
        ]
        return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]

    def on_train_batch_begin(self, batch, logs=None):
        self.begin[batch] = self._values()

    def on_train_batch_end(self, batch, logs=None):
        self.end[batch] = self._values()


@pytest.mark.parametrize(
    "name, mode",
    [
        *((name, "sd2") for name in OPTIMIZERS),
        ("adam", "sd"),
        ("sgd", "polyak"),
        ("adam", "polyak"),
        ("rmsprop", "none"),
    ],
)
def test_a_nonfinite_batch_leaves_weights_and_slots_unchanged(name, mode):
    """Every optimizer (momo and momo_adam read the loss: mode none) and
    every rate rule."""
    from kerastune_lab.optimizers import build_optimizer

    if name in LOSS_READING_OPTIMIZERS:
        mode = "none"
    model = small_classifier()
    # Momentum 0.9 for sgd and rmsprop: a zero rate alone would still move.
    model.compile(
        optimizer=build_optimizer(name, 0.05, weight_decay=0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
    )
    x, y = classification_data()
    weight = np.ones(len(y), "float32")
    weight[20] = np.nan  # batch 1 of 4: its loss (and gradient) is NaN
    snapshots = VariableSnapshots()
    callback = LossAdaptiveLR(mode=mode)
    model.fit(
        x,
        y,
        sample_weight=weight,
        batch_size=16,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[callback, snapshots],
    )
    assert np.isnan(callback.steps["loss"][1])
    assert callback.first_nonfinite_step == 1
    for before, after in zip(snapshots.begin[1], snapshots.end[1]):
        np.testing.assert_array_equal(before, after)
    # The finite batches around it did train (the check can fail).
    assert any(
        not np.array_equal(b, a)
        for b, a in zip(snapshots.begin[2], snapshots.end[2])
    )
    assert all(np.isfinite(v).all() for v in snapshots.end[3])


def test_loss_scale_factor_does_not_scale_gamma():
    runs = []
    for scale in (None, 64.0):
        model = small_classifier()
        model.compile(
            optimizer=keras.optimizers.SGD(0.1, loss_scale_factor=scale),
            loss="sparse_categorical_crossentropy",
        )
        callback = LossAdaptiveLR(mode="sd2")
        model.fit(
            *classification_data(),
            batch_size=16,
            epochs=2,
            shuffle=False,
            verbose=0,
            callbacks=[callback],
        )
        runs.append((callback.steps, model.get_weights()))
    (plain, plain_weights), (scaled, scaled_weights) = runs
    for column in ("loss", "gamma", "factor", "lr"):
        np.testing.assert_allclose(scaled[column], plain[column], rtol=1e-5)
    for a, b in zip(plain_weights, scaled_weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_gradient_accumulation_is_refused_with_a_reason():
    model = small_classifier()
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, gradient_accumulation_steps=2),
        loss="sparse_categorical_crossentropy",
    )
    with pytest.raises(ValueError, match="gradient_accumulation_steps=2"):
        model.fit(
            *classification_data(),
            batch_size=16,
            epochs=1,
            verbose=0,
            callbacks=[LossAdaptiveLR(mode="sd2")],
        )


def test_torch_backend_is_refused_clearly(monkeypatch):
    model = sgd_classifier()
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(ValueError, match="tensorflow and jax backends"):
        model.fit(
            *classification_data(),
            batch_size=16,
            epochs=1,
            verbose=0,
            callbacks=[LossAdaptiveLR(mode="sd2")],
        )


# Every rate rule but none, and every optimizer that reads the loss.
EVERY_RULE = (*matched_rate_modes(), *LOSS_READING_OPTIMIZERS)


@pytest.mark.parametrize(
    "case", ["finite", *(f"nan_{rule}" for rule in EVERY_RULE)]
)
def test_mirrored_strategy_matches_one_device(mirrored_results, case):
    """Two logical CPU replicas: the logged loss, G, factor, rate and the
    rule's own columns, the skip of a NaN batch, weights and slots all
    follow the global batch, as on one device (L2 on)."""
    assert mirrored_results["replicas"] == 2
    result = mirrored_results[case]
    diffs = {k: v for k, v in result.items() if k.endswith("_diff")}
    assert {"weight_diff", "slot_diff", "loss_diff", "lr_diff"} <= set(diffs)
    for key, value in diffs.items():
        assert value < 1e-5, (case, key, result)
    if case == "finite":
        assert result["steps"] == [12, 12]
        assert result["first_nonfinite"] == [None, None]
    else:
        assert result["steps"] == [4, 4]
        assert result["first_nonfinite"] == [1, 1]
    if case == "nan_polyak":
        assert "grad_norm_sq_diff" in diffs
