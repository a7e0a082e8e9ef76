"""Optimizers as declarations: what `build_optimizer` passes and what the
experiment files get from each `choices.OPTIMIZERS` entry."""

import dataclasses
import importlib

import keras
import pytest

from kerastune_lab.choices import OPTIMIZERS, optimizer_config_fields
from kerastune_lab.config import load_experiment
from kerastune_lab.config.run_sections import TrainConfig
from kerastune_lab.errors import ConfigError
from kerastune_lab.optimizer_choice import OptimizerChoice, OptimizerSetting
from kerastune_lab.optimizers import build_optimizer

# Values far from every default, so that each one seen in the optimizer
# was passed on.
VALUES = {
    "weight_decay": 0.0123,
    "momentum": 0.37,
    "epsilon": 3e-5,
    "f_star": 0.25,
    "warmup_steps": 11,
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_each_optimizer_receives_exactly_its_declared_values(name):
    choice = OPTIMIZERS[name]
    optimizer = build_optimizer(name, 0.01, clipnorm=2.0, **VALUES)
    module, _, class_name = choice.class_path.rpartition(".")
    assert type(optimizer) is getattr(
        importlib.import_module(module), class_name
    )
    config = optimizer.get_config()
    assert config["global_clipnorm"] == 2.0
    for key in choice.value_names:
        assert config[key] == pytest.approx(VALUES[key]), key
    # What it does not declare keeps the class's own default.
    default = type(optimizer)(learning_rate=0.01).get_config()
    for key in set(VALUES) - set(choice.value_names) - {"weight_decay"}:
        assert config.get(key) == default.get(key), key


def test_unset_values_keep_the_class_defaults_but_adamw_gets_no_decay():
    adam = build_optimizer("adam", 1e-3, epsilon=0.0, weight_decay=0.0)
    assert adam.epsilon == keras.optimizers.Adam().epsilon
    assert adam.weight_decay is None
    # Keras's AdamW decays by 0.004 by default; weight_decay 0 is none.
    assert keras.optimizers.AdamW().weight_decay == 0.004
    assert build_optimizer("adamw", 1e-3).weight_decay == 0.0


def test_build_optimizer_names_a_bad_value_or_an_unknown_setting():
    with pytest.raises(ValueError, match=r"`momentum`.*momentum=1.5"):
        build_optimizer("sgd", 0.1, momentum=1.5)
    with pytest.raises(ValueError, match="nesterov=True"):
        build_optimizer("sgd", 0.1, nesterov=True)
    with pytest.raises(ValueError, match="Unknown optimizer 'lamb'"):
        build_optimizer("lamb", 0.1)


def test_train_keys_come_from_the_declared_settings():
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    for name, _, field in optimizer_config_fields():
        assert fields[name].default == field.default
        assert fields[name].metadata == field.metadata
    assert "rmsprop, sgd, momo" in fields["momentum"].metadata["doc"]
    with pytest.raises(ConfigError, match=r"train.momentum = 1.5"):
        load_experiment(None, ["train.momentum=1.5"])


def test_every_key_an_optimizer_reads_exists_in_experiment_files():
    config = load_experiment()
    for choice in OPTIMIZERS.values():
        assert set(choice.config_values(config)) == set(choice.value_names)


def test_a_new_optimizer_is_one_entry(monkeypatch):
    """An entry with a setting of its own gives a [train] key with its
    range and doc, and `build_optimizer` passes it."""
    rho = OptimizerSetting("rho", 0.9, "decay of the square average", 0, 1)
    entry = OptimizerChoice("rms_rho", "keras.optimizers.RMSprop", (rho,))
    monkeypatch.setitem(OPTIMIZERS, entry.name, entry)
    fields = {name: field for name, _, field in optimizer_config_fields()}
    assert fields["rho"].metadata["maximum"] == 1
    assert fields["rho"].metadata["doc"].endswith("(train.optimizer rms_rho)")
    assert build_optimizer("rms_rho", 0.1, rho=0.5).rho == 0.5
    twin = dataclasses.replace(rho, default=0.5)
    monkeypatch.setitem(
        OPTIMIZERS, "twin", OptimizerChoice("twin", "x.Y", (twin,))
    )
    with pytest.raises(TypeError, match="'rho'"):
        optimizer_config_fields()
    with pytest.raises(ValueError, match=r"'section.key'.*f_star"):
        OptimizerChoice("bad", "x.Y", reads=("f_star",))


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (
            ['train.optimizer="momo"', 'lr_adapt.mode="sd2"'],
            "its lower bound is lr_adapt.f_star",
        ),
        (
            ['train.optimizer="schedule_free_adamw"'],
            "set train.restore_best_weights = false",
        ),
        (
            [
                'train.optimizer="schedule_free_adamw"',
                "train.restore_best_weights=false",
                'train.schedule="cosine"',
            ],
            'use schedule = "constant"',
        ),
    ],
)
def test_what_an_optimizer_asks_of_a_run_is_checked(overrides, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_experiment(None, overrides)
