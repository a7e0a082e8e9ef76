"""Values in messages as a user writes them in an experiment file."""

import json
import math


def toml_literal(value) -> str:
    """`value` as a TOML literal: how it reads in an experiment file or
    after --set, whatever Python type carries it.

    NumPy scalars read as the numbers they hold, tuples as lists, strings
    in double quotes, booleans as true / false.

    Example:

    >>> import numpy as np
    >>> toml_literal("adam"), toml_literal(True), toml_literal(np.int64(0))
    ('"adam"', 'true', '0')
    >>> toml_literal((1, 2.5, "x")), toml_literal({"a": 1e-4})
    ('[1, 2.5, "x"]', '{a = 0.0001}')
    """
    if hasattr(value, "item") and callable(value.item):
        value = value.item()  # a NumPy scalar
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(toml_literal, value)) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{k} = {toml_literal(v)}" for k, v in value.items())
            + "}"
        )
    return str(value)


def one_of(choices) -> str:
    """'one of "a", "b", "c"': allowed values as a user writes them."""
    return "one of " + ", ".join(map(toml_literal, choices))
