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
