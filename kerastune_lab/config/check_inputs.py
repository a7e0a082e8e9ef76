"""The user's files a run reads, read before anything is made."""

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
        sections = config.to_dict()
        key = json.dumps([sections["data"], sections["model"]], default=str)
        if key in seen:
            continue
        seen.add(key)
        kind = DATA_KINDS[config.data.name]
        if kind.check is not None:
            kind.check(config.data)
        family = FAMILIES[config.model.name]
        if family.check_files is not None:
            family.check_files(config)
