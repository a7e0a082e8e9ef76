"""`--set SECTION.KEY=VALUE` overrides, applied to an experiment file's
TOML layout before it is validated."""

import contextlib
import copy
import tomllib

from kerastune_lab.config.experiment_config import (
    STUDY_SECTIONS,
    sections_hint,
)
from kerastune_lab.config.run_sections import SECTIONS
from kerastune_lab.errors import ConfigError


def parse_override(text):
    """'section.key=value' -> ('section', 'key', value parsed as TOML).

    Everything after the first dot is the key, so a [grid] key needs no
    quotes (`grid.train.schedule=["constant"]`); quoted, it may be written
    as in the TOML file (`grid."train.schedule"=["constant"]`).

    Example:

    >>> parse_override("train.learning_rate=1e-4")
    ('train', 'learning_rate', 0.0001)
    """
    key, sep, raw = text.partition("=")
    section, dot, name = key.strip().partition(".")
    if name.startswith('"') and name.endswith('"') and len(name) > 1:
        # A malformed quoted key keeps its quotes and is reported below.
        with contextlib.suppress(tomllib.TOMLDecodeError):
            name = tomllib.loads(f"v = {name}")["v"]
    if not sep or not dot or not section or not name or '"' in name:
        raise ConfigError(
            f"--set {text!r}: expected SECTION.KEY=VALUE, for example "
            '--set train.learning_rate=1e-4 or --set data.path="x.csv".'
        )
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError as error:
        if raw.strip()[:1] in ('"', "'", "[", "{"):
            # Meant as TOML (a string, list or table) but malformed: an
            # unclosed quote would otherwise become part of a path.
            raise ConfigError(
                f"--set {text!r}: {raw.strip()} is not a TOML value "
                f"({error}). Close the quotes or brackets; in a shell, "
                """quote the whole setting: --set 'data.path="x.csv"'."""
            ) from None
        # The shell ate the quotes of a string: take the text as it is.
        value = raw
    return section, name, value


def merge_overrides(raw, overrides):
    """Applies --set overrides to the raw TOML dict (a deep copy)."""
    merged = copy.deepcopy(raw)
    for text in overrides:
        section, name, value = parse_override(text)
        if section not in SECTIONS and section not in STUDY_SECTIONS:
            raise ConfigError(
                f"--set {text!r}: unknown section [{section}]."
                + sections_hint(section)
            )
        merged.setdefault(section, {})[name] = value
    return merged
