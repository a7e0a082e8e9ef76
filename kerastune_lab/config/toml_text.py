"""A resolved configuration written back as TOML (tomllib only reads)."""

import json


def _value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is a JSON string
    if isinstance(value, float):
        return (
            repr(value)
            if value == value and abs(value) != float("inf")
            else (
                "nan" if value != value else ("inf" if value > 0 else "-inf")
            )
        )
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)


def _key(key):
    bare = key.replace("_", "").replace("-", "").isalnum()
    return key if bare else json.dumps(key)


def to_toml(sections):
    """{section: {key: value}} as TOML text that tomllib reads back."""
    lines = []
    for section, values in sections.items():
        lines += ([""] if lines else []) + [f"[{section}]"]
        lines += [f"{_key(k)} = {_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"
