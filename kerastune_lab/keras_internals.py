"""Every private part of Keras that kerastune-lab uses, one small function
each.

Nothing else in the package touches a private Keras attribute; the
functions here do, each with the reason it is needed.
tests/test_keras_internals.py checks each one by its behaviour (not by its
name); setup.cfg bounds Keras to the versions that file passed on. A new
Keras that moves one of them fails there first, naming it.

Bottom layer: this module imports no other part of the package.
"""

# -- models ------------------------------------------------------------


def forget_restored_epoch(model):
    """Clears the epoch `BackupAndRestore` restored onto `model`: `fit`
    prefers it to its own `initial_epoch`, so the next phase of a
    two-phase run would start where an earlier phase's backup was."""
    model._initial_epoch = None
