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

from kerastune_lab.config import run_sections as schema
from kerastune_lab.families.registry import FAMILIES
from kerastune_lab.fields import allowed
from kerastune_lab.study.analysis_config import AnalysisConfig
from kerastune_lab.study.controls_config import ControlsConfig
from kerastune_lab.toml_literal import toml_literal


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
                toml_literal(default),
                allowed(field),
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
                " ".join((family.params.__doc__ or "").split()),
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
            _rows(ControlsConfig),
        ),
        ReferenceSection(
            "[analysis]",
            "Study only: the question `compare` tests and how.",
            _rows(AnalysisConfig),
        ),
    ]
    return sections
