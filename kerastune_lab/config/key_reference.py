"""The experiment keys as reference rows, read from their declarations.

The docs' key reference is generated from these rows, so what a user
reads is what `check` enforces.

Example:

>>> from kerastune_lab.config.key_reference import reference_sections
>>> train = next(s for s in reference_sections() if s.title == "[train]")
>>> row = next(r for r in train.rows if r.key == "epochs")
>>> row.default, row.allowed
('20', 'an integer >= 1')
"""

import dataclasses

from kerastune_lab.config import experiment_config as schema
from kerastune_lab.families.registry import FAMILIES


@dataclasses.dataclass(frozen=True)
class KeyRow:
    key: str
    default: str
    allowed: str
    doc: str


@dataclasses.dataclass(frozen=True)
class ReferenceSection:
    title: str
    doc: str
    rows: tuple


def toml_text(value):
    """A value as a user writes it in TOML: true, 0.001, "adam", [1, 2]."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{k} = {toml_text(v)}" for k, v in value.items())
            + "}"
        )
    return repr(value)


def allowed_text(field):
    """What a field accepts, in words: "an integer >= 1", "one of ..."."""
    meta = field.metadata
    if meta.get("choices"):
        return "one of " + ", ".join(toml_text(c) for c in meta["choices"])
    kind = {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
    }.get(field.type, "a value")
    bounds = []
    if meta.get("minimum") is not None:
        op = ">" if meta.get("exclusive_minimum") else ">="
        bounds.append(f"{op} {toml_text(meta['minimum'])}")
    if meta.get("maximum") is not None:
        bounds.append(f"<= {toml_text(meta['maximum'])}")
    return " ".join([kind, " and ".join(bounds)]).strip()


def _rows(cls, skip=()):
    rows = []
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        default = (
            field.default_factory()
            if field.default_factory is not dataclasses.MISSING
            else field.default
        )
        rows.append(
            KeyRow(
                field.name,
                toml_text(default),
                allowed_text(field),
                field.metadata.get("doc", ""),
            )
        )
    return tuple(rows)


def reference_sections():
    """Every section of an experiment file, its keys in declaration order."""
    sections = [
        ReferenceSection(
            "[data]", "What the model learns from.", _rows(schema.DataConfig)
        ),
        ReferenceSection(
            "[model]",
            "`name` picks the model family; the other keys are the "
            "family's own (below).",
            _rows(schema.ModelConfig, skip=("params",)),
        ),
    ]
    for family in FAMILIES.values():
        sections.append(
            ReferenceSection(
                f'[model] name = "{family.name}"',
                (family.params.__doc__ or "").strip(),
                _rows(family.params),
            )
        )
    sections += [
        ReferenceSection(
            "[train]", "How the model is trained.", _rows(schema.TrainConfig)
        ),
        ReferenceSection(
            "[lr_adapt]",
            "The loss-adaptive rate rule.",
            _rows(schema.LrAdaptConfig),
        ),
        ReferenceSection(
            "[controls]",
            "Study only: cells `compare` adds to the [grid] on its own.",
            _rows(schema.ControlsConfig),
        ),
        ReferenceSection(
            "[analysis]",
            "Study only: the question `compare` tests and how.",
            _rows(schema.AnalysisConfig),
        ),
    ]
    return sections
