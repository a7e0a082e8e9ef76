"""The user's files a run reads, read before anything is made."""

import dataclasses
import json

from kerastune_lab.config.run_sections import DATA_KINDS
from kerastune_lab.families.registry import FAMILIES


def check_inputs(configs):
    """Reads what runs of `configs` read from the user's files, without
    Keras: the data (`DataKind.check`: a CSV's columns, classes and
    encoding, an image folder's classes, text files) and the files the
    `[model]` keys name (`ModelFamily.check_files`). Every command that
    trains calls it before it makes a folder or loads a backend, and
    `check` calls it too, so all three refuse the same inputs.

    Args:
        configs: `ExperimentConfig`s (a study's runs: each distinct data
            and model section is read once).

    Raises:
        UserError: The message training would give.

    Example:

    >>> from kerastune_lab.config import load_experiment
    >>> check_inputs([load_experiment(None, ['data.name="csv"',
    ...                                      'data.path="no.csv"'])])
    Traceback (most recent call last):
    ...
    kerastune_lab.errors.UserError: Data file 'no.csv' does not exist. ...
    """
    seen = set()
    for config in configs:
        data = json.dumps(dataclasses.asdict(config.data), default=str)
        model = json.dumps(dataclasses.asdict(config.model), default=str)
        kind = DATA_KINDS[config.data.name]
        if kind.check is not None and ("data", data) not in seen:
            kind.check(config.data)
        family = FAMILIES[config.model.name]
        if family.check_files is not None and ("model", model) not in seen:
            family.check_files(config)
        seen |= {("data", data), ("model", model)}
