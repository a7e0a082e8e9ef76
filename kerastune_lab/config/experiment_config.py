"""Experiment files: TOML, validated into typed dataclasses."""

import copy
import dataclasses
import json
import pathlib
import tomllib
from typing import Any, Optional

from kerastune_lab.config.fields import build_dataclass, option
from kerastune_lab.config.model_params import MODEL_PARAMS
from kerastune_lab.errors import ConfigError

CLASSIFICATION_DATA = ("fortunes", "csv", "synthetic")
CORPUS_DATA = ("pydoc", "text")
IMAGE_DATA = ("digits", "images")
DATA_NAMES = CLASSIFICATION_DATA + CORPUS_DATA + IMAGE_DATA
# The data each model family reads.
MODEL_DATA = {"gru": CLASSIFICATION_DATA, "bert_mlm": CORPUS_DATA,
              "transfer": IMAGE_DATA}
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd", "adagrad",
              "schedule_free_adamw")
SCHEDULES = ("constant", "linear", "cosine")
LR_ADAPT_MODES = ("none", "sd", "sd2")
GAMMA_SOURCES = ("loss", "semantic")


@dataclasses.dataclass
class DataConfig:
    name: str = option(
        "fortunes", choices=DATA_NAMES,
        doc="classification: fortunes (embedded, 4 classes), csv, "
            "synthetic; masked LM: pydoc (embedded corpus), text; images: "
            "digits (embedded), images (a folder of class folders)",
    )
    path: str = option(
        "", doc="CSV file (name = 'csv'); .txt file or folder ('text'); "
                "folder with one sub-folder per class ('images')")
    text_column: str = option("text", doc="CSV column holding the text")
    label_column: str = option("label", doc="CSV column holding the label")
    val_split: float = option(0.15, minimum=0.0, maximum=0.5,
                              exclusive_minimum=True)
    test_split: float = option(0.15, minimum=0.0, maximum=0.5)
    split_seed: int = option(
        -1, minimum=-1,
        doc="seed of the data split, the synthetic data and the fixed eval "
            "masks; -1: train.seed. Fix it in a study so that every seed "
            "is evaluated on the same examples")
    max_tokens: int = option(20000, minimum=2,
                             doc="vocabulary size of the text vectoriser")
    sequence_length: int = option(64, minimum=1,
                                  doc="tokens kept per text (padded, masked)")
    num_samples: int = option(3000, minimum=10,
                              doc="synthetic: number of sequences")
    difficulty: float = option(0.5, minimum=0.0, maximum=1.0,
                               doc="synthetic: 0 easy .. 1 pure noise")
    num_classes: int = option(2, minimum=2, doc="synthetic: classes")
    chunk_size: int = option(128, minimum=8,
                             doc="masked LM: tokens per training chunk")
    mask_rate: float = option(0.15, minimum=0.0, maximum=0.5,
                              exclusive_minimum=True,
                              doc="masked LM: fraction of tokens predicted")
    max_chunks: int = option(0, minimum=0,
                             doc="masked LM: use at most this many chunks "
                                 "(0: all)")
    augment: bool = option(
        False, doc="images: random flips, rotations and zooms of the "
                   "training batches")


    def data_seed(self, train_seed):
        """The seed of everything that defines the examples themselves."""
        return train_seed if self.split_seed < 0 else self.split_seed


@dataclasses.dataclass
class ModelConfig:
    name: str = option("gru", choices=tuple(MODEL_PARAMS))
    params: Any = None


@dataclasses.dataclass
class TrainConfig:
    optimizer: str = option("adam", choices=OPTIMIZERS)
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
        "epoch", choices=("epoch", "batch"),
        doc="when a NaN/inf batch loss stops the run: at the end of its "
            "epoch (no host sync; the bad steps are skipped in-graph) or "
            "right after the batch (Keras TerminateOnNaN: one host sync per "
            "step)")
    deterministic: bool = option(
        True, doc="TensorFlow op determinism (see training/determinism.py)")
    tensorboard: bool = option(
        False, doc="TensorBoard logs under run_dir/tensorboard: per-epoch "
                   "and per-step scalars (loss, lr, G, SD factor) and the "
                   "run's hyperparameters")
    weight_decay: float = option(0.0, minimum=0.0)
    momentum: float = option(0.9, minimum=0.0, maximum=1.0)
    epsilon: float = option(0.0, minimum=0.0,
                            doc="epsilon of adaptive optimizers; 0: Keras's")
    clipnorm: float = option(0.0, minimum=0.0, doc="global norm clip; 0 off")
    jit_compile: bool = option(True, doc="XLA-compile the train step")
    steps_per_execution: int = option(1, minimum=1)
    dtype_policy: str = option(
        "float32", choices=("float32", "mixed_bfloat16"),
    )
    data_parallel: bool = option(
        False, doc="split every batch over all local devices (JAX: "
                   "keras.distribution.DataParallel, several hosts too; "
                   "TensorFlow: MirroredStrategy on one host)")
    head_epochs: int = option(
        0, minimum=0,
        doc="transfer: train the head alone (base frozen) for this many "
            "epochs, then unfreeze model.unfreeze layers and train the rest "
            "of train.epochs at train.fine_tune_learning_rate (0: one phase)")
    fine_tune_learning_rate: float = option(
        0.0, minimum=0.0,
        doc="rate of the second phase; 0: train.learning_rate / 10")


@dataclasses.dataclass
class LrAdaptConfig:
    mode: str = option("none", choices=LR_ADAPT_MODES)
    source: str = option("loss", choices=GAMMA_SOURCES)
    root: float = option(3.0, minimum=0.0, exclusive_minimum=True)
    min_gamma: float = option(1e-3, minimum=0.0, exclusive_minimum=True)
    max_gamma: float = option(1e3, minimum=0.0, exclusive_minimum=True)
    semantic_model: str = option(
        "auto", choices=("auto", "encoder", "minilm"),
        doc="semantic source: profiles from the pretrained encoder's token "
            "embeddings (encoder), all-MiniLM-L6-v2 (minilm), or the "
            "encoder when model.preset is set and MiniLM otherwise (auto)")
    min_factor: float = option(0.0, minimum=0.0, doc="0: no lower bound")
    max_factor: float = option(0.0, minimum=0.0, doc="0: no upper bound")


@dataclasses.dataclass
class ControlsConfig:
    """Cells that `compare` adds to a study's [grid] on its own."""

    matched_rate: list = option(
        [], doc="lr_adapt modes (sd, sd2) that get a matched-rate control: "
                "per value of the other axes, a mode-none cell whose base "
                "rate is scaled by the mean factor that mode's runs used "
                "(run after them, as a second stage)")
    schedule_free: bool = option(
        False, doc="add a train.schedule level 'schedule_free': "
                   "ScheduleFreeAdamW at the base rate, lr_adapt.mode none")


# Where a model has a customary set-up, it replaces the generic defaults
# (the user's own keys still win): for bert_mlm, the original SD study's
# Hugging Face AdamW set-up of its SDTrainer notebook.
MODEL_TRAIN_DEFAULTS = {
    "bert_mlm": {
        "optimizer": "adamw", "learning_rate": 2e-5, "epsilon": 1e-8,
        "weight_decay": 0.01, "clipnorm": 1.0, "batch_size": 64,
        "early_stopping": False,
    },
    # Seed 004: model.fit(x, y, epochs=10), no early stopping; its
    # optimizers are Keras's defaults ('RMSprop', SGD()): momentum 0.
    "transfer": {"epochs": 10, "batch_size": 32, "early_stopping": False,
                 "momentum": 0.0},
}
DATA_DEFAULTS = {"bert_mlm": {"name": "pydoc"}, "transfer": {"name": "digits"}}

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
        default_factory=ControlsConfig)
    name: str = "experiment"
    source: Optional[str] = None

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
            "--set train.learning_rate=1e-4 or --set data.path=\"x.csv\"."
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
    model_name = model_section.get("name", ModelConfig.name) \
        if isinstance(model_section, dict) else ModelConfig.name
    defaults = {"train": MODEL_TRAIN_DEFAULTS.get(model_name, {}),
                "data": DATA_DEFAULTS.get(model_name, {})}
    for section, cls in SECTIONS.items():
        values = {**defaults.get(section, {}), **raw.get(section, {})}
        if section == "model":
            model_name = values.pop("name", ModelConfig.name)
            base = build_dataclass(ModelConfig, {"name": model_name}, section)
            base.params = dataclasses.asdict(
                build_dataclass(
                    MODEL_PARAMS[base.name], values, section, ("name",)
                )
            )
            sections[section] = base
        else:
            sections[section] = build_dataclass(cls, values, section)
    grid = raw.get("grid", {})
    _check_grid(grid)
    controls = build_dataclass(ControlsConfig, raw.get("controls", {}),
                               "controls")
    _check_controls(controls, grid)
    config = ExperimentConfig(**sections, grid=grid, controls=controls,
                              name=name, source=source)
    _check_consistency(config)
    return config


def _check_grid(grid):
    if not isinstance(grid, dict):
        raise ConfigError(f"[grid] must be a table, received {grid!r}.")
    for key, values in grid.items():
        section, dot, name = key.partition(".")
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
    for mode in controls.matched_rate:
        if mode not in ("sd", "sd2") or mode not in modes or "none" not in \
                modes:
            raise ConfigError(
                f"controls.matched_rate = {controls.matched_rate!r}: each "
                "entry must be 'sd' or 'sd2' and, with 'none', a level of "
                f"the grid's \"lr_adapt.mode\" axis (received levels "
                f"{modes!r}).")
    if controls.schedule_free and "train.schedule" not in grid:
        raise ConfigError(
            "controls.schedule_free adds a level to the grid's "
            "\"train.schedule\" axis; add that axis to [grid].")


def _check_consistency(config):
    data = config.data
    wanted = MODEL_DATA[config.model.name]
    if data.name not in wanted:
        raise ConfigError(
            f"data.name = {data.name!r} does not fit model.name = "
            f"{config.model.name!r}; use one of {', '.join(wanted)}."
        )
    adapt = config.lr_adapt
    if adapt.source == "semantic" and config.model.name != "bert_mlm":
        raise ConfigError(
            "lr_adapt.source = 'semantic' scores masked-token predictions "
            "and needs model.name = 'bert_mlm'; use source = 'loss' for "
            f"{config.model.name!r}."
        )
    if (adapt.source == "semantic" and adapt.semantic_model == "encoder"
            and not config.model.params.get("preset")):
        raise ConfigError(
            "lr_adapt.semantic_model = 'encoder' needs a pretrained "
            "model.preset; a model trained from scratch has no meaningful "
            "token embeddings (use 'minilm')."
        )
    if data.name in ("csv", "images") and not data.path:
        example = "file.csv" if data.name == "csv" else "photos/"
        raise ConfigError(
            f"data.name = {data.name!r} needs data.path: add path = "
            f"\"{example}\" to [data] or pass --set data.path=\"{example}\"."
        )
    params = config.model.params
    if (config.model.name == "transfer" and params["weights"] == "none"
            and params["unfreeze"]):
        raise ConfigError(
            f"model.unfreeze = {params['unfreeze']} with model.weights = "
            "'none': a base trained from scratch trains all its layers; "
            "drop unfreeze, or load pretrained weights.")
    train = config.train
    if train.head_epochs:
        if config.model.name != "transfer":
            raise ConfigError(
                "train.head_epochs trains a new head before unfreezing a "
                "pretrained base and needs model.name = 'transfer'.")
        if train.head_epochs >= train.epochs:
            raise ConfigError(
                f"train.head_epochs = {train.head_epochs} leaves no epoch "
                f"of fine-tuning within train.epochs = {train.epochs}: set "
                "it below train.epochs.")
        if config.model.params["weights"] == "none":
            raise ConfigError(
                "train.head_epochs needs a pretrained base (model.weights "
                "'imagenet' or a file); with weights = 'none' the whole "
                "network trains from the start.")
    if data.val_split + data.test_split >= 0.9:
        raise ConfigError(
            f"data.val_split + data.test_split = "
            f"{data.val_split + data.test_split:g}: leave at least 10% of "
            "the data for training."
        )
    if (train.optimizer == "schedule_free_adamw" and train.early_stopping
            and train.restore_best_weights):
        raise ConfigError(
            "train.optimizer = 'schedule_free_adamw' with early stopping "
            "and restore_best_weights: restoring an earlier epoch's weights "
            "without its averaging state gives a wrong evaluation point; "
            "set train.restore_best_weights = false.")
    if train.optimizer == "schedule_free_adamw" and train.schedule != \
            "constant":
        raise ConfigError(
            f"train.optimizer = 'schedule_free_adamw' with train.schedule = "
            f"{train.schedule!r}: schedule-free training replaces the decay "
            "schedule; use schedule = 'constant' (warmup_steps still "
            "applies).")
    if config.lr_adapt.min_gamma > config.lr_adapt.max_gamma:
        raise ConfigError(
            f"lr_adapt.min_gamma = {config.lr_adapt.min_gamma} exceeds "
            f"lr_adapt.max_gamma = {config.lr_adapt.max_gamma}."
        )


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
    return from_dict(raw, name=name, source=None if path is None else str(path))


def load_run_config(run_dir):
    """The resolved config a run directory's config.json recorded, named
    after the folder (what `run --resume` and a resumed trial train)."""
    run_dir = pathlib.Path(run_dir)
    record = json.loads((run_dir / "config.json").read_text())
    return from_dict(record["config"], name=run_dir.name)


def apply_overrides(config, overrides):
    """A new config: `config` with 'section.key=value' overrides applied."""
    raw = merge_overrides(config.to_dict(), overrides)
    return from_dict(raw, name=config.name, source=config.source)
