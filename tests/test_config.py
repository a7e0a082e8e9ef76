import dataclasses
import pathlib
import re

import pytest

from kerastune_lab.config import load_experiment, with_settings
from kerastune_lab.config.merge_overrides import parse_override
from kerastune_lab.errors import ConfigError
from kerastune_lab.models.bert_masked_lm import BERT_SIZES

EXPERIMENTS = sorted(
    (pathlib.Path(__file__).parents[1] / "experiments").glob("*.toml")
)


def test_defaults_resolve_everything():
    config = load_experiment()
    resolved = config.to_dict()
    assert resolved["model"]["name"] == "gru"
    assert resolved["train"]["schedule"] == "constant"
    assert resolved["lr_adapt"] == {
        "mode": "none",
        "source": "loss",
        "root": 3.0,
        "min_gamma": 1e-3,
        "max_gamma": 1e3,
        "min_factor": 0.0,
        "max_factor": 0.0,
        "polyak_c": 0.5,
        "f_star": 0.0,
        "semantic_model": "auto",
    }


def test_overrides_parse_values_as_toml():
    config = load_experiment(
        None,
        [
            "train.early_stopping=false",
            "train.learning_rate=1e-4",
            'data.path="/x/y.csv"',
            "data.text_column=body",  # quotes eaten by the shell
            "model.gru_units=8",
            "train.epochs=3",
        ],
    )
    assert config.train.early_stopping is False
    assert config.train.learning_rate == 1e-4
    assert config.data.path == "/x/y.csv"
    assert config.data.text_column == "body"
    assert config.model.params.gru_units == 8
    assert isinstance(config.train.epochs, int)
    again = with_settings(config, {"train.epochs": 5})
    assert again.train.epochs == 5 and again.model.params.gru_units == 8


def test_a_cell_that_switches_the_family_gets_that_familys_defaults():
    config = load_experiment(None, ["train.epochs=3"])
    assert config.train.batch_size == 64  # the GRU's (generic) default
    other = with_settings(config, {"model.name": "bert_mlm"})
    assert other.model.params.size == "tiny"
    assert not hasattr(other.model.params, "gru_units")
    assert other.train.optimizer == "adamw"  # bert_mlm's train defaults
    assert other.train.epochs == 3  # the file's own keys still win


def test_int_is_accepted_for_float_keys():
    assert (
        load_experiment(None, ["train.learning_rate=1"]).train.learning_rate
        == 1.0
    )


@pytest.mark.parametrize(
    "override, fragments",
    [
        ("train.lr=0.1", ["train.lr", "0.1", "learning_rate"]),
        ("train.learning_rate=-1", ["train.learning_rate", "-1", "> 0"]),
        ("train.learning_rate=0", ["train.learning_rate", "> 0"]),
        ('train.epochs="ten"', ["train.epochs", '"ten"', "integer"]),
        ("train.epochs=2.5", ["train.epochs", "2.5", "integer"]),
        ("train.early_stopping=1", ["train.early_stopping", "true or false"]),
        ('train.optimizer="adamax"', ["train.optimizer", "adamax", '"adamw"']),
        ('train.schedule="step"', ["train.schedule", '"cosine"']),
        (
            'lr_adapt.mode="sd3"',
            ["lr_adapt.mode", '"sd2"', 'Did you mean "sd"?'],
        ),
        ("lr_adapt.root=0", ["lr_adapt.root", "> 0"]),
        ("model.dropout_rate=1.5", ["model.dropout_rate", "<= 0.95"]),
        ("model.units=3", ["model.units", "gru_units"]),
        (
            "train.learnig_rate=1",
            ["Did you mean train.learning_rate?"],
        ),
        ("trian.epochs=1", ["Did you mean [train]?"]),
        ('model.name="resnet"', ["model.name", '"gru"']),
        ('data.name="imagenet"', ["data.name", '"fortunes"']),
        ("data.val_split=0", ["data.val_split", "a number > 0 and <= 0.5"]),
        ('data.name="csv"', ["data.path", "--set"]),
        ("optim.lr=1", ["[optim]", "train"]),
        ("learning_rate=1", ["SECTION.KEY=VALUE"]),
        ("grid.train.seed=3", ["grid.train.seed", "non-empty list"]),
        ("lr_adapt.min_gamma=5000", ["min_gamma", "max_gamma"]),
    ],
)
def test_bad_values_name_key_value_and_allowed(override, fragments):
    with pytest.raises(ConfigError) as info:
        load_experiment(None, [override])
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_splits_must_leave_training_data():
    with pytest.raises(ConfigError, match="leave at least 10%"):
        load_experiment(None, ["data.val_split=0.5", "data.test_split=0.45"])


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_experiment(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[train\nepochs = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_experiment(broken)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[trainer]\nepochs = 3\n")
    with pytest.raises(ConfigError, match=r"Unknown section \[trainer\]"):
        load_experiment(unknown)


def test_grid_is_validated_and_kept(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(
        '[grid]\n"train.schedule" = ["constant", "cosine"]\n'
        '"lr_adapt.mode" = ["none", "sd2"]\n'
    )
    config = load_experiment(path)
    assert config.grid["train.schedule"] == ["constant", "cosine"]
    assert config.to_dict()["grid"]["lr_adapt.mode"] == ["none", "sd2"]


def test_parse_override_splits_on_first_equals():
    assert parse_override('data.path="a=b.csv"') == ("data", "path", "a=b.csv")


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_shipped_experiments_validate(path):
    config = load_experiment(path)
    assert config.name == path.stem


def test_seed_000_hyperparameters_are_exact():
    by_name = {p.stem: load_experiment(p) for p in EXPERIMENTS}
    a = by_name["approach_a"]
    assert (
        a.data.num_samples,
        a.train.batch_size,
        a.train.learning_rate,
        a.train.epochs,
        a.train.early_stopping,
    ) == (3000, 64, 1e-4, 1000, True)
    assert {
        k: getattr(a.model.params, k)
        for k in (
            "embedding_dim",
            "gru_units",
            "dropout_rate",
            "recurrent_dropout_rate",
        )
    } == {
        "embedding_dim": 32,
        "gru_units": 64,
        "dropout_rate": 0.2,
        "recurrent_dropout_rate": 0.2,
    }
    small = by_name["approach_a_smaller"]
    assert (
        small.train.batch_size,
        small.train.learning_rate,
        small.model.params.embedding_dim,
        small.model.params.gru_units,
        small.model.params.dropout_rate,
        small.model.params.recurrent_dropout_rate,
    ) == (32, 1e-5, 16, 32, 0.3, 0.3)
    assert by_name["approach_a_no_early_stop"].train.early_stopping is False
    b = by_name["approach_b"]
    assert (
        b.data.num_samples,
        b.model.params.embedding_dim,
        b.model.params.gru_units,
        b.train.learning_rate,
    ) == (100000, 128, 256, 1e-4)


def test_bert_mlm_gets_the_original_training_setup_by_default():
    config = load_experiment(None, ['model.name="bert_mlm"'])
    train = config.train
    assert (
        train.optimizer,
        train.learning_rate,
        train.epsilon,
        train.weight_decay,
        train.clipnorm,
        train.batch_size,
    ) == ("adamw", 2e-5, 1e-8, 0.01, 1.0, 64)
    assert config.data.name == "pydoc"
    # The user's own keys still win.
    assert (
        load_experiment(
            None, ['model.name="bert_mlm"', "train.learning_rate=1e-4"]
        ).train.learning_rate
        == 1e-4
    )


@pytest.mark.parametrize(
    "overrides, match",
    [
        (['model.name="bert_mlm"', 'data.name="fortunes"'], "does not fit"),
        (['data.name="pydoc"'], "does not fit"),
        (
            ['lr_adapt.source="semantic"'],
            'needs model.name among \\["bert_mlm"\\]',
        ),
        (
            [
                'model.name="bert_mlm"',
                'lr_adapt.source="semantic"',
                'lr_adapt.semantic_model="encoder"',
            ],
            "pretrained model.preset",
        ),
        (['model.name="bert_mlm"', 'model.size="huge"'], '"tiny"'),
    ],
)
def test_model_data_and_source_must_fit(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_experiment(None, overrides)


def test_sd_study_files_hold_the_grid_and_the_original_setup(repo):
    study = load_experiment(repo / "experiments" / "sd_study.toml")
    assert study.grid == {
        "train.schedule": ["constant", "linear", "cosine"],
        "lr_adapt.mode": ["none", "sd", "sd2"],
    }
    assert study.controls.matched_rate == ["sd", "sd2"]
    assert len(study.analysis.primary) == 4 and study.analysis.seeds >= 5
    original = load_experiment(repo / "experiments" / "sd_study_original.toml")
    assert original.model.params.preset == "bert_base_en"
    t = original.train
    assert (
        t.optimizer,
        t.learning_rate,
        t.epsilon,
        t.weight_decay,
        t.clipnorm,
        t.batch_size,
        t.epochs,
        t.seed,
    ) == ("adamw", 2e-5, 1e-8, 0.01, 1.0, 64, 100, 42)
    assert original.lr_adapt.root == 3.0
    assert original.data.max_chunks == 120


LEVELS_STUDY = """
[grid]
"lr_adapt.mode" = ["none", "polyak", "momo_adam"]

[levels."lr_adapt.mode".polyak]
"train.optimizer" = "sgd"
"train.momentum" = 0.0

[levels."lr_adapt.mode".momo_adam]
"lr_adapt.mode" = "none"
"train.optimizer" = "momo_adam"
"train.learning_rate" = 0.01
"""


def test_a_level_stands_for_its_settings(tmp_path):
    from kerastune_lab.comparison.run_comparison import Study

    path = tmp_path / "study.toml"
    path.write_text(LEVELS_STUDY)
    study = Study.create(load_experiment(path), 1, tmp_path / "runs")
    runs = {p.cell.name: p.config for p in study.first_stage()}
    assert list(runs) == ["none", "polyak", "momo_adam"]
    assert (runs["none"].train.optimizer, runs["none"].lr_adapt.mode) == (
        "adam",
        "none",
    )
    polyak = runs["polyak"]
    assert (polyak.lr_adapt.mode, polyak.train.optimizer) == ("polyak", "sgd")
    assert polyak.train.momentum == 0.0
    momo = runs["momo_adam"]
    assert (momo.lr_adapt.mode, momo.train.optimizer) == ("none", "momo_adam")
    assert momo.train.learning_rate == 0.01


@pytest.mark.parametrize(
    "levels, fragment",
    [
        ('[levels."train.seed".x]\n"train.epochs" = 1\n', "not an axis"),
        (
            '[levels."lr_adapt.mode".sd]\n"train.epochs" = 1\n',
            "expected a level",
        ),
        (
            '[levels."lr_adapt.mode".polyak]\n"train.optimizer" = "lion"\n',
            'train.optimizer = "lion"',
        ),
        ('[levels."lr_adapt.mode".polyak]\n"epochs" = 1\n', "section.key"),
    ],
)
def test_bad_levels_name_what_to_fix(tmp_path, levels, fragment):
    path = tmp_path / "study.toml"
    path.write_text('[grid]\n"lr_adapt.mode" = ["none", "polyak"]\n' + levels)
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_experiment(path)


def test_the_gpu_study_asks_the_default_question_at_a_larger_scale(repo):
    default = load_experiment(repo / "experiments" / "sd_study.toml")
    gpu = load_experiment(repo / "experiments" / "sd_study_gpu.toml")
    for section in ("grid", "controls", "data"):
        assert getattr(gpu, section) == getattr(default, section), section
    question = dataclasses.asdict(gpu.analysis)
    assert question.pop("seeds") == 8
    expected = dataclasses.asdict(default.analysis)
    expected.pop("seeds")
    assert question == expected
    assert gpu.train.epochs >= 4 * default.train.epochs
    assert gpu.train.batch_size == default.train.batch_size  # same steps
    sizes = list(BERT_SIZES)
    assert sizes.index(gpu.model.params.size) > sizes.index(
        default.model.params.size
    )
