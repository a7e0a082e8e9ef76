"""The run sections of an experiment file: [data], [model], [train] and
[lr_adapt] as typed dataclasses (the schema), their keys and defaults
declared once; the optimizers' and rate rules' keys come from their own
declarations."""

import dataclasses
from typing import Any

from kerastune_lab.choices import (
    GAMMA_SOURCES,
    OPTIMIZERS,
    SCHEDULES,
    optimizer_config_fields,
)
from kerastune_lab.families.registry import FAMILIES
from kerastune_lab.fields import option
from kerastune_lab.lr_adapt import registry as rules

# Every data.name some family reads, in registry order: its DataKind.
DATA_KINDS = {
    kind.name: kind
    for family in FAMILIES.values()
    for kind in family.data_kinds
}
DATA_NAMES = tuple(DATA_KINDS)


@dataclasses.dataclass
class DataConfig:
    name: str = option(
        DATA_NAMES[0],
        choices=DATA_NAMES,
        doc="; ".join(f"{k.name}: {k.doc}" for k in DATA_KINDS.values()),
    )
    path: str = option(
        "",
        doc="CSV file (name = 'csv'); .txt file or folder ('text'); "
        "folder with one sub-folder per class ('images')",
    )
    text_column: str = option("text", doc="CSV column holding the text")
    label_column: str = option("label", doc="CSV column holding the label")
    val_split: float = option(
        0.15,
        minimum=0.0,
        maximum=0.5,
        exclusive_minimum=True,
        doc="fraction held out for validation: early stopping, the "
        "diagnosis and every decision of compare and improve read it",
    )
    test_split: float = option(
        0.15,
        minimum=0.0,
        maximum=0.5,
        doc="fraction held out for the test, evaluated once after "
        "training (metrics.json); 0: none",
    )
    split_seed: int = option(
        -1,
        minimum=-1,
        doc="seed of the data split, the synthetic data and the fixed eval "
        "masks; -1: train.seed, so each seed of a study or of improve "
        "draws its own split and split-to-split variance is inside every "
        "interval. Fix it only to evaluate every seed on one split (the "
        "claims then hold for that split)",
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
    """[model]: the family's name and its own keys, typed: `params` is an
    instance of the family's params dataclass (`ModelFamily.params`,
    e.g. `GRUParams`), so `config.model.params.gru_units` is checked."""

    name: str = option(
        next(iter(FAMILIES)),
        choices=tuple(FAMILIES),
        doc="the model family; its own keys are listed under it",
    )
    params: Any = None


@dataclasses.dataclass
class _TrainKeys:
    """[train] without the optimizers' settings (see TrainConfig)."""

    optimizer: str = option(
        "adam",
        choices=tuple(OPTIMIZERS),
        doc="the optimizer; its settings are the [train] keys that name it",
    )
    learning_rate: float = option(
        1e-3,
        minimum=0.0,
        exclusive_minimum=True,
        doc="the base rate the schedule starts from (before any "
        "loss-adaptive factor)",
    )
    schedule: str = option(
        "constant",
        choices=SCHEDULES,
        doc="the rate over the steps after warmup, as Hugging Face "
        "defines it: constant, linear decay to 0, or cosine decay to 0",
    )
    warmup_steps: int = option(
        0, minimum=0, doc="steps of linear warmup from 0 to the base rate"
    )
    batch_size: int = option(
        64, minimum=1, doc="examples per step (the global batch)"
    )
    epochs: int = option(
        20, minimum=1, doc="passes over the training split (at most)"
    )
    early_stopping: bool = option(
        True,
        doc="stop when train.monitor has not improved for train.patience "
        "epochs",
    )
    patience: int = option(
        5, minimum=0, doc="early stopping: epochs without improvement"
    )
    min_delta: float = option(
        0.0, minimum=0.0, doc="early stopping: the smallest improvement"
    )
    restore_best_weights: bool = option(
        True,
        doc="early stopping: keep the best epoch's weights (evaluated on "
        "the test split and saved) instead of the last",
    )
    monitor: str = option(
        "val_loss",
        doc="the logged figure early stopping watches (val_loss, "
        "val_accuracy, ...)",
    )
    seed: int = option(
        42,
        minimum=0,
        doc="seed of the initialisation, data order, dropout and masks; "
        "with data.split_seed = -1, of the split too",
    )
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
    clipnorm: float = option(0.0, minimum=0.0, doc="global norm clip; 0 off")
    jit_compile: bool = option(True, doc="XLA-compile the train step")
    steps_per_execution: int = option(
        1,
        minimum=1,
        doc="train steps per compiled call (Keras's steps_per_execution)",
    )
    dtype_policy: str = option(
        "float32",
        choices=("float32", "mixed_bfloat16"),
        doc="Keras dtype policy; mixed_bfloat16 for GPUs and TPUs",
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


# The keys of the optimizers' settings come from their declarations.
TrainConfig = dataclasses.make_dataclass(
    "TrainConfig", optimizer_config_fields(), bases=(_TrainKeys,)
)
# Importable under its own name: planned runs are pickled to workers.
TrainConfig.__module__ = __name__

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
        (
            "source",
            str,
            option(
                "loss",
                choices=GAMMA_SOURCES,
                doc="G, what the rule reads: the batch's data loss, or "
                "(masked LM) the semantic-profile distance of the "
                "predicted tokens",
            ),
        ),
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
# Importable under its own name: planned runs are pickled to workers.
LrAdaptConfig.__module__ = __name__


SECTIONS = {
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "lr_adapt": LrAdaptConfig,
}
