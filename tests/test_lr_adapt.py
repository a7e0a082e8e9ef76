"""The rules beside SD: Polyak, MoMo and MoMo-Adam against optax, their
edge cases, and how a rule plugs in (one class, one registry entry)."""

import dataclasses
import pathlib
import tomllib

import keras
import numpy as np
import optax_scenarios  # tests/ is on sys.path (rootdir conftest)
import pytest
from click.testing import CliRunner
from tiny_study import TINY_GRU

from kerastune_lab.callbacks import LossAdaptiveLR
from kerastune_lab.cli.main import cli
from kerastune_lab.config import from_dict, load_experiment
from kerastune_lab.config.run_sections import LrAdaptConfig
from kerastune_lab.errors import ConfigError
from kerastune_lab.lr_adapt import registry
from kerastune_lab.lr_adapt.polyak import Polyak
from kerastune_lab.lr_adapt.rate_rule import RateRule, StepSignals
from kerastune_lab.optimizers import LossAdaptiveOptimizer, Momo, MomoAdam
from kerastune_lab.run_directory import keep_epochs_before, read_csv_columns


def check_against_optax(name, ours, reference):
    """Our run of scenario `name` against optax's, on the same weights
    and batches: final weights (rtol 1e-5), and per step the loss, the
    rate used (read back from optax's update) and Polyak's ||g||^2."""
    steps = ours["steps"]
    for mine, theirs in zip(ours["weights"], reference["weights"]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(steps["loss"], reference["loss"], rtol=1e-5)
    np.testing.assert_allclose(
        steps["lr"], reference["lr"], rtol=1e-4, atol=1e-6
    )
    if name.startswith("polyak"):
        np.testing.assert_allclose(
            steps["grad_norm_sq"], reference["grad_norm_sq"], rtol=1e-5
        )


def check_scenario_reaches_every_branch(name, reference):
    """The scenario is one where the rule's min() and clip matter."""
    rates = np.array(reference["lr"])
    cap = {"polyak": 2.0, "polyak_high_f_star": 3.0, "momo_adam": 0.15}
    if name in cap:
        assert (rates >= cap[name] * (1 - 1e-4)).any()
        assert ((rates > 0) & (rates < cap[name] * (1 - 1e-2))).any()
    if name == "polyak_high_f_star":
        assert (rates == 0).any()


@pytest.mark.parametrize("name", list(optax_scenarios.SCENARIOS))
def test_rules_match_optax_on_jax(jax_results, name):
    result = jax_results["optax"][name]
    check_scenario_reaches_every_branch(name, result["optax"])
    check_against_optax(name, result["keras"], result["optax"])


@pytest.mark.parametrize("name", list(optax_scenarios.SCENARIOS))
def test_rules_match_optax_on_tensorflow(jax_results, name):
    reference = jax_results["optax"][name]["optax"]
    check_against_optax(name, optax_scenarios.keras_run(name), reference)


def polyak_rate(loss, grad_norm_sq, cap, **settings):
    signals = StepSignals(
        scheduled_rate=keras.ops.convert_to_tensor(cap, "float32"),
        loss=keras.ops.convert_to_tensor(loss, "float32"),
        gamma=keras.ops.convert_to_tensor(loss, "float32"),
        grad_norm_sq=keras.ops.convert_to_tensor(grad_norm_sq, "float32"),
    )
    return float(keras.ops.convert_to_numpy(Polyak(**settings).rate(signals)))


def test_polyak_clips_the_gap_and_survives_a_zero_gradient():
    # (2 - 0.5) / (0.5 * 4) = 0.75 under the cap 1, and over the cap 0.5.
    assert polyak_rate(2.0, 4.0, 1.0, f_star=0.5) == pytest.approx(0.75)
    assert polyak_rate(2.0, 4.0, 0.5, f_star=0.5) == pytest.approx(0.5)
    # A loss at or below f_star: no step (SPS+), not a negative one.
    assert polyak_rate(0.4, 4.0, 1.0, f_star=0.5) == 0.0
    assert polyak_rate(0.5, 0.0, 1.0, f_star=0.5) == 0.0
    # A zero gradient with a positive gap: the cap, never NaN.
    assert polyak_rate(2.0, 0.0, 0.3) == pytest.approx(0.3)


def classifier():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    return x, (np.abs(x[:, 0]) * 2).astype("int32").clip(0, 2)


@pytest.mark.parametrize("optimizer", [Momo, MomoAdam])
def test_momo_without_the_probe_says_how_to_feed_it(optimizer):
    model = classifier()
    model.compile(
        optimizer=optimizer(), loss="sparse_categorical_crossentropy"
    )
    with pytest.raises(ValueError, match=r"LossAdaptiveLR\(mode='none'\)"):
        model.fit(*data(), epochs=1, verbose=0)


def test_momo_refuses_a_rate_rule_on_top():
    with pytest.raises(ValueError, match="mode='none'"):
        LossAdaptiveOptimizer(Momo(), mode="sd2")
    with pytest.raises(ConfigError, match=r'lr_adapt\.mode = "none"'):
        load_experiment(
            None, ['train.optimizer="momo"', 'lr_adapt.mode="polyak"']
        )


def test_momo_optimizers_check_and_serialize_their_arguments():
    with pytest.raises(ValueError, match="momentum"):
        Momo(momentum=1.0)
    with pytest.raises(ValueError, match="beta_2"):
        MomoAdam(beta_2=-0.1)
    with pytest.raises(ValueError, match="f_star"):
        Momo(f_star=float("nan"))
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        Momo(gradient_accumulation_steps=2)
    optimizer = MomoAdam(0.02, beta_1=0.8, f_star=0.1, weight_decay=0.01)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(again) is MomoAdam
    assert again.get_config() == optimizer.get_config()


def test_a_model_trained_with_momo_adam_saves_and_reloads(tmp_path):
    x, y = data()
    model = classifier()
    model.compile(
        optimizer=MomoAdam(0.05), loss="sparse_categorical_crossentropy"
    )
    callback = LossAdaptiveLR(mode="none")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[callback])
    rates = np.array(callback.steps["lr"])
    assert (rates > 0).all() and (rates <= 0.05 * (1 + 1e-6)).all()
    np.testing.assert_allclose(
        callback.steps["factor"], rates / 0.05, rtol=1e-5
    )
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer) is MomoAdam
    assert int(loaded.optimizer.iterations.numpy()) == 8
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )
    loaded.fit(x, y, epochs=1, verbose=0, callbacks=[LossAdaptiveLR("none")])


class HalfRate(RateRule):
    """A rule added by a test: half the scheduled rate; it reads ||g||^2,
    which the step then logs."""

    name = "half"
    reads = ("grad_norm_sq",)

    def rate(self, signals):
        return signals.scheduled_rate / 2


def test_a_new_rule_is_one_class_and_one_registry_entry(monkeypatch):
    monkeypatch.setitem(registry.RATE_RULES, "half", HalfRate)
    x, y = data()
    model = classifier()
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss="sparse_categorical_crossentropy",
    )
    callback = LossAdaptiveLR(mode="half")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[callback])
    assert callback.columns[-1] == "grad_norm_sq"
    np.testing.assert_allclose(callback.steps["lr"], 0.05, rtol=1e-6)
    np.testing.assert_allclose(callback.steps["factor"], 0.5, rtol=1e-6)
    assert np.all(np.array(callback.steps["grad_norm_sq"]) > 0)
    assert "half" in registry.matched_rate_modes()


def test_settings_are_declared_once_and_derived():
    fields = {f.name: f for f in dataclasses.fields(LrAdaptConfig)}
    for mode, rule in registry.RATE_RULES.items():
        defaults = {}
        for setting in rule.settings:
            field = fields[setting.name]
            assert field.default == (setting.default or 0.0)
            assert field.metadata["doc"].startswith(setting.doc)
            defaults[setting.name] = setting.default
        callback = LossAdaptiveLR(mode=mode, **defaults)
        assert callback.get_config()["mode"] == mode
    # A setting of another rule is refused, naming the mode's own.
    with pytest.raises(ValueError, match=r"polyak_c, f_star\. Received: root"):
        LossAdaptiveLR(mode="polyak", root=3)
    config = load_experiment(
        None, ['lr_adapt.mode="polyak"', "lr_adapt.polyak_c=0.2"]
    )
    assert registry.config_settings(config.lr_adapt) == {
        "polyak_c": 0.2,
        "f_star": 0.0,
    }
    for override, fragment in [
        ("lr_adapt.polyak_c=0", "lr_adapt.polyak_c"),
        ("lr_adapt.f_star=inf", "lr_adapt.f_star"),
        ('lr_adapt.mode="sps"', '"polyak"'),
    ]:
        with pytest.raises(ConfigError, match=fragment):
            load_experiment(None, [override])


def test_matched_rate_controls_follow_the_registry():
    study = (
        '[grid]\n"lr_adapt.mode" = ["none", "polyak"]\n'
        '[controls]\nmatched_rate = ["polyak"]\n'
    )
    raw = tomllib.loads(study)
    assert from_dict(raw).controls.matched_rate == ["polyak"]
    raw["controls"]["matched_rate"] = ["none"]
    with pytest.raises(ConfigError, match='"sd", "sd2", "polyak"'):
        from_dict(raw)


def test_experiment_runs_momo_adam_and_polyak_with_their_columns(tmp_path):
    study = tmp_path / "tiny.toml"
    study.write_text(TINY_GRU)
    runs = {}
    for name, overrides in (
        ("momo_adam", ['train.optimizer="momo_adam"', "lr_adapt.f_star=0.1"]),
        ("polyak", ['lr_adapt.mode="polyak"', "train.learning_rate=0.5"]),
    ):
        args = ["run", str(study), "--runs-dir", str(tmp_path / "runs")]
        for override in ("train.epochs=1", *overrides):
            args += ["--set", override]
        result = CliRunner().invoke(cli, [*args, "--verbose", "0"])
        assert result.exit_code == 0, result.output
        runs[name] = pathlib.Path(result.output.strip().splitlines()[-1])
    momo = read_csv_columns(runs["momo_adam"] / "steps.csv")
    assert list(momo) == ["step", "epoch", "loss", "gamma", "factor", "lr"]
    assert 0 < max(momo["lr"]) <= 3e-3 * (1 + 1e-6)
    model = keras.models.load_model(runs["momo_adam"] / "model.keras")
    assert type(model.optimizer) is MomoAdam
    assert model.optimizer.f_star == 0.1
    steps_csv = runs["polyak"] / "steps.csv"
    polyak = read_csv_columns(steps_csv)
    assert list(polyak)[-1] == "grad_norm_sq"
    np.testing.assert_allclose(
        polyak["lr"],
        np.minimum(
            np.array(polyak["loss"])
            / (0.5 * np.array(polyak["grad_norm_sq"])),
            0.5,
        ),
        rtol=1e-5,
    )
    # Resume's trimming keeps the rule's column.
    assert len(keep_epochs_before(steps_csv, 1)) == len(polyak["step"])
    assert list(read_csv_columns(steps_csv)) == list(polyak)


def test_lr_find_refuses_an_optimizer_that_sets_its_own_step(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "lr-find",
            "--set",
            'train.optimizer="momo"',
            "--runs-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 2
    assert "only a cap" in result.output
