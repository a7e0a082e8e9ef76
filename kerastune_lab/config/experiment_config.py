"""Experiment files: TOML, validated into typed dataclasses."""

import copy
import dataclasses
import pathlib
import tomllib
from typing import Any

from kerastune_lab.choices import GAMMA_SOURCES, OPTIMIZERS, SCHEDULES
from kerastune_lab.errors import ConfigError
from kerastune_lab.families.registry import FAMILIES
from kerastune_lab.fields import build_dataclass, option
from kerastune_lab.lr_adapt import registry as rules
from kerastune_lab.run_directory import RunDirectory

# Every data.name some family reads, in registry order.
DATA_NAMES = tuple(
    dict.fromkeys(
        name for family in FAMILIES.values() for name in family.data_names
    )
)


@dataclasses.dataclass
class DataConfig:
    name: str = option(
        DATA_NAMES[0],
        choices=DATA_NAMES,
        doc="classification: fortunes (embedded, 4 classes), csv, "
        "synthetic; masked LM: pydoc (embedded corpus), text; images: "
        "digits (embedded), images (a folder of class folders)",
    )
    path: str = option(
        "",
        doc="CSV file (name = 'csv'); .txt file or folder ('text'); "
        "folder with one sub-folder per class ('images')",
    )
    text_column: str = option("text", doc="CSV column holding the text")
    label_column: str = option("label", doc="CSV column holding the label")
    val_split: float = option(
        0.15, minimum=0.0, maximum=0.5, exclusive_minimum=True
    )
    test_split: float = option(0.15, minimum=0.0, maximum=0.5)
    split_seed: int = option(
        -1,
        minimum=-1,
        doc="seed of the data split, the synthetic data and the fixed eval "
        "masks; -1: train.seed. Fix it in a study so that every seed "
        "is evaluated on the same examples",
    )
    max_tokens: int = option(
        20000, minimum=2, doc="vocabulary size of the text vectoriser"
    )
    sequence_length: int = option(
        64, minimum=1, doc="tokens kept per text (padded, masked)"
    )
    num_samples: int = option(
        3000, minimum=10, doc="synthetic: number of sequences"
    )
    difficulty: float = option(
        0.5, minimum=0.0, maximum=1.0, doc="synthetic: 0 easy .. 1 pure noise"
    )
    num_classes: int = option(2, minimum=2, doc="synthetic: classes")
    chunk_size: int = option(
        128, minimum=8, doc="masked LM: tokens per training chunk"
    )
    mask_rate: float = option(
        0.15,
        minimum=0.0,
        maximum=0.5,
        exclusive_minimum=True,
        doc="masked LM: fraction of tokens predicted",
    )
    max_chunks: int = option(
        0, minimum=0, doc="masked LM: use at most this many chunks (0: all)"
    )
    augment: bool = option(
        False,
        doc="images: random flips, rotations and zooms of the "
        "training batches",
    )

    def data_seed(self, train_seed):
        """The seed of everything that defines the examples themselves."""
        return train_seed if self.split_seed < 0 else self.split_seed


@dataclasses.dataclass
class ModelConfig:
    name: str = option(next(iter(FAMILIES)), choices=tuple(FAMILIES))
    params: Any = None


@dataclasses.dataclass
class TrainConfig:
    optimizer: str = option("adam", choices=tuple(OPTIMIZERS))
    learning_rate: float = option(1e-3, minimum=0.0, exclusive_minimum=True)
    schedule: str = option("constant", choices=SCHEDULES)
    warmup_steps: int = option(0, minimum=0)
    batch_size: int = option(64, minimum=1)
    epochs: int = option(20, minimum=1)
    early_stopping: bool = option(True)
    patience: int = option(5, minimum=0)
    min_delta: float = option(0.0, minimum=0.0)
    restore_best_weights: bool = option(True)
    monitor: str = option("val_loss")
    seed: int = option(42, minimum=0)
    stop_on_nonfinite: str = option(
        "epoch",
        choices=("epoch", "batch"),
        doc="when a NaN/inf batch loss stops the run: at the end of its "
        "epoch (no host sync; the bad steps are skipped in-graph) or "
        "right after the batch (Keras TerminateOnNaN: one host sync per "
        "step)",
    )
    deterministic: bool = option(
        True, doc="TensorFlow op determinism (see training/determinism.py)"
    )
    tensorboard: bool = option(
        False,
        doc="TensorBoard logs under run_dir/tensorboard: per-epoch "
        "and per-step scalars (loss, lr, G, SD factor) and the "
        "run's hyperparameters",
    )
    weight_decay: float = option(0.0, minimum=0.0)
    momentum: float = option(
        0.9, minimum=0.0, maximum=1.0, doc="momentum of rmsprop, sgd and momo"
    )
    epsilon: float = option(
        0.0, minimum=0.0, doc="epsilon of adaptive optimizers; 0: Keras's"
    )
    clipnorm: float = option(0.0, minimum=0.0, doc="global norm clip; 0 off")
    jit_compile: bool = option(True, doc="XLA-compile the train step")
    steps_per_execution: int = option(1, minimum=1)
    dtype_policy: str = option(
        "float32",
        choices=("float32", "mixed_bfloat16"),
    )
    data_parallel: bool = option(
        False,
        doc="split every batch over all local devices (JAX: "
        "keras.distribution.DataParallel, several hosts too; "
        "TensorFlow: MirroredStrategy on one host)",
    )
    head_epochs: int = option(
        0,
        minimum=0,
        doc="transfer: train the head alone (base frozen) for this many "
        "epochs, then unfreeze model.unfreeze layers and train the rest "
        "of train.epochs at train.fine_tune_learning_rate (0: one phase)",
    )
    fine_tune_learning_rate: float = option(
        0.0,
        minimum=0.0,
        doc="rate of the second phase; 0: train.learning_rate / 10",
    )


# The keys of the rules' settings come from the rules themselves.
LrAdaptConfig = dataclasses.make_dataclass(
    "LrAdaptConfig",
    [
        (
            "mode",
            str,
            option(
                "none",
                choices=tuple(rules.RATE_RULES),
                doc="the loss-adaptive rate rule (README: the rules table)",
            ),
        ),
        ("source", str, option("loss", choices=GAMMA_SOURCES)),
        *(setting.config_field() for setting in rules.all_settings()),
        (
            "semantic_model",
            str,
            option(
                "auto",
                choices=("auto", "encoder", "minilm"),
                doc="semantic source: profiles from the pretrained "
                "encoder's token embeddings (encoder), all-MiniLM-L6-v2 "
                "(minilm), or the encoder when model.preset is set and "
                "MiniLM otherwise (auto)",
            ),
        ),
    ],
)


@dataclasses.dataclass
class ControlsConfig:
    """Cells that `compare` adds to a study's [grid] on its own."""

    matched_rate: list = option(
        [],
        doc="lr_adapt modes (any but none) that get a matched-rate control: "
        "per value of the other axes, a mode-none cell whose base "
        "rate is scaled by the mean factor that mode's runs used "
        "(run after them, as a second stage)",
    )
    schedule_free: bool = option(
        False,
        doc="add a train.schedule level 'schedule_free': "
        "ScheduleFreeAdamW at the base rate, lr_adapt.mode none",
    )


# Sections that describe a study for `compare`; `run` ignores them.
STUDY_SECTIONS = ("grid", "controls")

SECTIONS = {
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "lr_adapt": LrAdaptConfig,
}


@dataclasses.dataclass
class ExperimentConfig:
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    lr_adapt: LrAdaptConfig = dataclasses.field(default_factory=LrAdaptConfig)
    grid: dict = dataclasses.field(default_factory=dict)
    controls: ControlsConfig = dataclasses.field(
        default_factory=ControlsConfig
    )
    name: str = "experiment"
    source: str | None = None

    def to_dict(self):
        """The resolved configuration as plain TOML-compatible values."""
        out = {}
        for section in SECTIONS:
            values = dataclasses.asdict(getattr(self, section))
            if section == "model":
                params = values.pop("params") or {}
                values.update(params)
            out[section] = values
        if self.grid:
            out["grid"] = copy.deepcopy(self.grid)
        if self.controls != ControlsConfig():
            out["controls"] = dataclasses.asdict(self.controls)
        return out


def parse_override(text):
    """'section.key=value' -> ('section', 'key', value parsed as TOML)."""
    key, sep, raw = text.partition("=")
    section, dot, name = key.strip().partition(".")
    if not sep or not dot or not section or not name:
        raise ConfigError(
            f"--set {text!r}: expected SECTION.KEY=VALUE, for example "
            '--set train.learning_rate=1e-4 or --set data.path="x.csv".'
        )
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        # The shell ate the quotes of a string: take the text as it is.
        value = raw
    return section, name, value


def merge_overrides(raw, overrides):
    """Applies --set overrides to the raw TOML dict (a deep copy)."""
    merged = copy.deepcopy(raw)
    for text in overrides:
        section, name, value = parse_override(text)
        if section in STUDY_SECTIONS:
            merged.setdefault(section, {})[name] = value
            continue
        if section not in SECTIONS:
            raise ConfigError(
                f"--set {text!r}: unknown section [{section}]. Sections: "
                f"{', '.join(SECTIONS)}."
            )
        merged.setdefault(section, {})[name] = value
    return merged


def from_dict(raw, name="experiment", source=None):
    """Validates a raw dict (TOML layout) into an ExperimentConfig."""
    unknown = sorted(set(raw) - set(SECTIONS) - set(STUDY_SECTIONS))
    if unknown:
        raise ConfigError(
            f"Unknown section [{unknown[0]}]. Sections: "
            f"{', '.join([*SECTIONS, *STUDY_SECTIONS])}."
        )
    sections = {}
    model_section = raw.get("model", {})
    model_name = (
        model_section.get("name", ModelConfig.name)
        if isinstance(model_section, dict)
        else ModelConfig.name
    )
    # A family's customary set-up replaces the generic defaults (the
    # user's own keys still win); its data defaults to its first kind.
    family = FAMILIES.get(model_name)
    defaults = (
        {}
        if family is None
        else {
            "train": family.train_defaults,
            "data": {"name": family.data_names[0]},
        }
    )
    for section, cls in SECTIONS.items():
        values = {**defaults.get(section, {}), **raw.get(section, {})}
        if section == "model":
            model_name = values.pop("name", ModelConfig.name)
            base = build_dataclass(ModelConfig, {"name": model_name}, section)
            base.params = dataclasses.asdict(
                build_dataclass(
                    FAMILIES[base.name].params, values, section, ("name",)
                )
            )
            sections[section] = base
        else:
            sections[section] = build_dataclass(cls, values, section)
    grid = raw.get("grid", {})
    _check_grid(grid)
    controls = build_dataclass(
        ControlsConfig, raw.get("controls", {}), "controls"
    )
    _check_controls(controls, grid)
    config = ExperimentConfig(
        **sections, grid=grid, controls=controls, name=name, source=source
    )
    _check_consistency(config)
    return config


def _check_grid(grid):
    if not isinstance(grid, dict):
        raise ConfigError(f"[grid] must be a table, received {grid!r}.")
    for key, values in grid.items():
        section, dot, _name = key.partition(".")
        if not dot or section not in SECTIONS:
            raise ConfigError(
                f"grid key {key!r}: expected 'section.key' with a section "
                f"among {', '.join(SECTIONS)}."
            )
        if not isinstance(values, list) or not values:
            raise ConfigError(
                f"grid.{key} = {values!r}: expected a non-empty list of "
                "values to try."
            )


def _check_controls(controls, grid):
    modes = grid.get("lr_adapt.mode", [])
    allowed = rules.matched_rate_modes()
    for mode in controls.matched_rate:
        if mode not in allowed or mode not in modes or "none" not in modes:
            raise ConfigError(
                f"controls.matched_rate = {controls.matched_rate!r}: each "
                f"entry must be one of {', '.join(map(repr, allowed))} and, "
                "with 'none', a level of the grid's \"lr_adapt.mode\" axis "
                f"(received levels {modes!r})."
            )
    if controls.schedule_free and "train.schedule" not in grid:
        raise ConfigError(
            "controls.schedule_free adds a level to the grid's "
            '"train.schedule" axis; add that axis to [grid].'
        )


def _check_consistency(config):
    data = config.data
    family = FAMILIES[config.model.name]
    if data.name not in family.data_names:
        raise ConfigError(
            f"data.name = {data.name!r} does not fit model.name = "
            f"{config.model.name!r}; use one of "
            f"{', '.join(family.data_names)}."
        )
    adapt = config.lr_adapt
    if adapt.source == "semantic" and not family.semantic_gamma:
        fits = [f.name for f in FAMILIES.values() if f.semantic_gamma]
        raise ConfigError(
            "lr_adapt.source = 'semantic' scores masked-token predictions "
            f"and needs model.name among {fits}; use source = 'loss' for "
            f"{config.model.name!r}."
        )
    if data.name in ("csv", "images") and not data.path:
        example = "file.csv" if data.name == "csv" else "photos/"
        raise ConfigError(
            f"data.name = {data.name!r} needs data.path: add path = "
            f'"{example}" to [data] or pass --set data.path="{example}".'
        )
    train = config.train
    if train.head_epochs:
        if not family.two_phase:
            fits = [f.name for f in FAMILIES.values() if f.two_phase]
            raise ConfigError(
                "train.head_epochs trains a new head before unfreezing a "
                f"pretrained base and needs model.name among {fits}."
            )
        if train.head_epochs >= train.epochs:
            raise ConfigError(
                f"train.head_epochs = {train.head_epochs} leaves no epoch "
                f"of fine-tuning within train.epochs = {train.epochs}: set "
                "it below train.epochs."
            )
    if family.check is not None:
        family.check(config)
    if data.val_split + data.test_split >= 0.9:
        raise ConfigError(
            f"data.val_split + data.test_split = "
            f"{data.val_split + data.test_split:g}: leave at least 10% of "
            "the data for training."
        )
    if (
        train.optimizer == "schedule_free_adamw"
        and train.early_stopping
        and train.restore_best_weights
    ):
        raise ConfigError(
            "train.optimizer = 'schedule_free_adamw' with early stopping "
            "and restore_best_weights: restoring an earlier epoch's weights "
            "without its averaging state gives a wrong evaluation point; "
            "set train.restore_best_weights = false."
        )
    if (
        train.optimizer == "schedule_free_adamw"
        and train.schedule != "constant"
    ):
        raise ConfigError(
            f"train.optimizer = 'schedule_free_adamw' with train.schedule = "
            f"{train.schedule!r}: schedule-free training replaces the decay "
            "schedule; use schedule = 'constant' (warmup_steps still "
            "applies)."
        )
    rules.check_config(config.lr_adapt, train.optimizer)


def load_experiment(path=None, overrides=()):
    """Reads, overrides and validates an experiment file.

    Args:
        path: TOML file, or None for all defaults.
        overrides: 'section.key=value' strings (values parsed as TOML).
    """
    raw = {}
    name = "experiment"
    if path is not None:
        path = pathlib.Path(path)
        if not path.is_file():
            raise ConfigError(
                f"Experiment file {str(path)!r} does not exist. Pass the path"
                " of a TOML file, e.g. experiments/approach_a.toml."
            )
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(
                f"{path} is not valid TOML: {error}. Fix the file (see "
                "experiments/ for examples)."
            ) from None
        name = path.stem
    raw = merge_overrides(raw, overrides)
    return from_dict(
        raw, name=name, source=None if path is None else str(path)
    )


def load_run_config(run_dir):
    """The resolved config a run directory's config.json recorded, named
    after the folder (what `run --resume` and a resumed trial train)."""
    run = RunDirectory(run_dir)
    return from_dict(run.read_record()["config"], name=run.name)


def apply_overrides(config, overrides):
    """A new config: `config` with 'section.key=value' overrides applied."""
    raw = merge_overrides(config.to_dict(), overrides)
    return from_dict(raw, name=config.name, source=config.source)
