"""The model families, by `[model] name`: one line per family."""

import importlib

FAMILY_MODULES = ("gru", "transformer", "bert_mlm", "transfer")

FAMILIES = {
    family.name: family
    for family in (
        importlib.import_module(f"kerastune_lab.families.{module}").FAMILY
        for module in FAMILY_MODULES
    )
}


def knobs_for(config):
    """The `Knob`s of the model family a configuration dict (config.json
    "config") names; () where it names none the registry knows (a bare
    history.csv): the diagnosis then advises the training keys only."""
    family = FAMILIES.get(((config or {}).get("model") or {}).get("name"))
    return family.knobs if family else ()
