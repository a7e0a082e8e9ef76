"""What a model family declares about itself."""

import dataclasses
from collections.abc import Callable
from typing import Any

from kerastune_lab.analysis.knob import Knob


@dataclasses.dataclass(frozen=True)
class DataKind:
    """A `data.name` value and what it needs.

    Attributes:
        name: The `data.name`.
        doc: What it is, for the key's documentation.
        path_example: Where a kind read from the user's files needs
            `data.path`, an example value of it ("" for embedded data).
        check: Optional `check(data_config)`: reads the user's files as
            training will, without Keras, and raises `UserError` for what
            training would refuse (run before any folder is made).
    """

    name: str
    doc: str
    path_example: str = ""
    check: Callable[[Any], None] | None = None

    @property
    def needs_path(self) -> bool:
        return bool(self.path_example)


@dataclasses.dataclass(frozen=True)
class ModelFamily:
    """One `[model] name` of experiment files, and everything it brings.

    Nothing outside a family's own module branches on its name: the
    configuration, the training loop, `predict` and `finetuning.py` read
    these attributes.

    Attributes:
        name: The `[model] name`.
        params: Dataclass of its `[model]` keys (fields made with
            `fields.option`, which carry their checks).
        data_kinds: The `DataKind`s it reads; the first is its
            default.
        prepare: `prepare(config) -> families.prepared_task.PreparedTask`:
            loads the data, builds the model, and says how to compile,
            score and export it (the no-skill eval loss included). It
            imports Keras and friends when called, so a family can be
            declared, and a configuration checked, without them.
        train_defaults: `[train]` values that replace the generic defaults
            (the user's own keys still win).
        check: Optional `check(config)` raising `ConfigError` for settings
            that do not fit together in this family.
        check_files: Optional `check_files(config)`: finds the files the
            `[model]` keys name (e.g. weights) without Keras, raising
            `UserError` (run before any folder is made).
        two_phase: Supports `train.head_epochs` (head first, then the
            trunk).
        semantic_gamma: Supports `lr_adapt.source = "semantic"`.
        read_inputs: Optional `read_inputs(params, paths) -> batch`: input
            files (e.g. images) as the model's inputs, read exactly as
            training read its data; `kerastune-lab predict` serves the
            runs of a family that has it (text runs instead save what
            reads their text: `PreparedTask.export_files`).
        knobs: `Knob`s (analysis.knob) of capacity, regularisation and
            data amount, which the diagnosis advises from: whoever asks
            for a diagnosis passes them in (`knobs_for`).
    """

    name: str
    params: type
    data_kinds: tuple[DataKind, ...]
    prepare: Callable[[Any], Any]
    train_defaults: dict = dataclasses.field(default_factory=dict)
    check: Callable[[Any], None] | None = None
    check_files: Callable[[Any], None] | None = None
    two_phase: bool = False
    semantic_gamma: bool = False
    read_inputs: Callable[[Any, list], Any] | None = None
    knobs: tuple[Knob, ...] = ()

    @property
    def data_names(self) -> tuple[str, ...]:
        """The `data.name` values it reads, its default first."""
        return tuple(kind.name for kind in self.data_kinds)
