"""A contrast of `[analysis] primary`: "axis: level vs baseline"."""

import re

from kerastune_lab.errors import ConfigError
from kerastune_lab.toml_literal import toml_literal

_CONTRAST = re.compile(r"^\s*([^:\s]+)\s*:\s*(\S+)\s+vs\s+(\S+)\s*$")


def parse_contrast(text):
    """'axis: level vs baseline' -> (axis, level, baseline), as text.

    Example:

    >>> parse_contrast("lr_adapt.mode: sd2 vs none")
    ('lr_adapt.mode', 'sd2', 'none')
    """
    match = _CONTRAST.match(text) if isinstance(text, str) else None
    if match is None:
        raise ConfigError(
            f"analysis.primary entry {toml_literal(text)}: expected the "
            "text "
            '"axis: level vs baseline", e.g. "lr_adapt.mode: sd2 vs none".'
        )
    return match.groups()
