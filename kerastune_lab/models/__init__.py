"""Model builders; the model families (kerastune_lab.families) say which
one each `[model] name` uses.

The builders load on first use (PEP 562), so the families can read
`base_models` and `bert_masked_lm.BERT_SIZES` without importing Keras.
"""

import importlib

_BUILDERS = {
    "build_gru_classifier": "gru_classifier",
    "build_transfer_classifier": "transfer_classifier",
    "set_trainable_top": "transfer_classifier",
}

__all__ = list(_BUILDERS)


def __getattr__(name):
    if name not in _BUILDERS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_BUILDERS[name]}")
    return getattr(module, name)
