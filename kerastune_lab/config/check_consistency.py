"""The checks across the run sections of one validated experiment."""

from kerastune_lab.choices import OPTIMIZERS
from kerastune_lab.config.run_sections import DATA_KINDS
from kerastune_lab.errors import ConfigError
from kerastune_lab.families.registry import FAMILIES
from kerastune_lab.lr_adapt import registry as rules
from kerastune_lab.toml_literal import toml_literal


def check_consistency(config):
    """The sections of one run fit together: the data fits the model
    family, the G source and two-phase training are the family's, the
    splits leave data to train on, and the optimizer and rate rule accept
    their settings."""
    data = config.data
    family = FAMILIES[config.model.name]
    if data.name not in family.data_names:
        raise ConfigError(
            f"data.name = {toml_literal(data.name)} does not fit "
            f"model.name = {toml_literal(config.model.name)}; use one of "
            f"{', '.join(family.data_names)}."
        )
    adapt = config.lr_adapt
    if adapt.source == "semantic" and not family.semantic_gamma:
        fits = [f.name for f in FAMILIES.values() if f.semantic_gamma]
        raise ConfigError(
            'lr_adapt.source = "semantic" scores masked-token predictions '
            f"and needs model.name among {toml_literal(fits)}; use source "
            f'= "loss" for {toml_literal(config.model.name)}.'
        )
    kind = DATA_KINDS[data.name]
    if kind.needs_path and not data.path:
        raise ConfigError(
            f"data.name = {toml_literal(data.name)} needs data.path "
            f"({kind.doc}): add "
            f'path = "{kind.path_example}" to [data] or pass --set '
            f'data.path="{kind.path_example}".'
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
    OPTIMIZERS[train.optimizer].check(train, config.lr_adapt)
    rules.check_config(config.lr_adapt)
