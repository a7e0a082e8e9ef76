"""Typed, checked fields for the experiment dataclasses."""

import dataclasses
import difflib
import math
import types
import typing

from kerastune_lab.errors import ConfigError
from kerastune_lab.toml_literal import one_of, toml_literal


def option(
    default,
    *,
    choices=None,
    minimum=None,
    maximum=None,
    exclusive_minimum=False,
    doc="",
):
    """A dataclass field with the checks `validate_dataclass` applies."""
    metadata = {
        "choices": choices,
        "minimum": minimum,
        "maximum": maximum,
        "exclusive_minimum": exclusive_minimum,
        "doc": doc,
    }
    if isinstance(default, (list, dict)):
        return dataclasses.field(
            default_factory=lambda: type(default)(default), metadata=metadata
        )
    return dataclasses.field(default=default, metadata=metadata)


def closest(name, known):
    """The known name closest to a misspelt one, or None if none is close.

    Example:

    >>> closest("learnig_rate", ["learning_rate", "epochs"])
    'learning_rate'
    """
    close = difflib.get_close_matches(str(name), [str(k) for k in known], 1)
    return close[0] if close else None


_KINDS = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a table",
}


def _annotation(field):
    """The field's type, and whether it also takes None (`X | None`)."""
    annotation = field.type
    if (
        isinstance(annotation, types.UnionType)
        or typing.get_origin(annotation) is typing.Union
    ):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], True
    return annotation, False


def allowed(field):
    """What a field accepts, in words, as messages and the key reference
    say it.

    Example:

    >>> import dataclasses
    >>> @dataclasses.dataclass
    ... class Split:
    ...     val: float = option(0.15, minimum=0.0, maximum=0.5,
    ...                         exclusive_minimum=True)
    >>> allowed(dataclasses.fields(Split)[0])
    'a number > 0 and <= 0.5'
    """
    meta = field.metadata
    if meta.get("choices"):
        return one_of(meta["choices"])
    kind = _KINDS.get(_annotation(field)[0], "a value")
    bounds = []
    if meta.get("minimum") is not None:
        op = ">" if meta.get("exclusive_minimum") else ">="
        bounds.append(f"{op} {meta['minimum']:g}")
    if meta.get("maximum") is not None:
        bounds.append(f"<= {meta['maximum']:g}")
    return " and ".join(
        [f"{kind} {bounds[0]}", *bounds[1:]] if bounds else [kind]
    )


def _coerce(where, field, value):
    annotation, optional = _annotation(field)
    if optional and value is None:
        return None
    given = value
    ok = isinstance(value, annotation)
    if (
        annotation is float
        and isinstance(value, int)
        and not isinstance(value, bool)
    ):
        value, ok = float(value), True
    if annotation in (int, float) and isinstance(value, bool):
        ok = False
    if not ok:
        raise ConfigError(
            f"{where} = {toml_literal(given)}: expected {allowed(field)}."
        )
    meta = field.metadata
    bad = False
    if meta.get("choices") and value not in meta["choices"]:
        bad = True
    if isinstance(value, float) and not math.isfinite(value):
        bad = True
    if meta.get("minimum") is not None:
        if meta.get("exclusive_minimum"):
            bad = bad or value <= meta["minimum"]
        else:
            bad = bad or value < meta["minimum"]
    if meta.get("maximum") is not None and value > meta["maximum"]:
        bad = True
    if bad:
        near = closest(value, meta["choices"] or ())
        raise ConfigError(
            f"{where} = {toml_literal(given)}: expected {allowed(field)}."
            + (f" Did you mean {toml_literal(near)}?" if near else "")
        )
    return value


def build_dataclass(cls, values, section, extra_keys=()):
    """Builds `cls` from a dict, naming the key and value of any error."""
    if not isinstance(values, dict):
        raise ConfigError(
            f"[{section}] must be a table of keys, received "
            f"{toml_literal(values)}."
        )
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        name = unknown[0]
        known = sorted(set(fields) | set(extra_keys))
        near = closest(name, known)
        raise ConfigError(
            f"Unknown key {section}.{name} (= {toml_literal(values[name])})."
            + (
                f" Did you mean {section}.{near}?"
                if near
                else f" Allowed keys in [{section}]: {', '.join(known)}."
            )
        )
    checked = {
        name: _coerce(f"{section}.{name}", fields[name], value)
        for name, value in values.items()
    }
    return cls(**checked)
