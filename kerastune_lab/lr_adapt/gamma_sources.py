"""Where the loss signal G of SD / SD2 comes from (steps.csv `gamma`).

A G source is a callable `(loss, y, y_pred, sample_weight) -> scalar`,
evaluated inside the compiled train step on the same batch as the update.
Sources that need nothing but the batch are registered here by name; a
source that needs the model's own vocabulary (the masked LM's "semantic"
score) is built by its model family and handed over as a callable
(`PreparedTask.gamma_source`). `choices.GAMMA_SOURCES` lists both kinds.
"""

from kerastune_lab.choices import GAMMA_SOURCES as SOURCE_NAMES


def batch_loss(loss, y, y_pred, sample_weight):
    """G = the batch's own data loss (penalties of `model.losses`
    excluded)."""
    return loss


GAMMA_SOURCES = {"loss": batch_loss}


def get_gamma_source(source):
    """Returns the G source for a registered name or a callable."""
    if callable(source):
        return source
    if source in SOURCE_NAMES and source not in GAMMA_SOURCES:
        raise ValueError(
            f"The G source {source!r} is built by the model family for its "
            "own model (it needs the vocabulary); pass the built callable, "
            "or use a model family that provides it."
        )
    if source not in GAMMA_SOURCES:
        raise ValueError(
            f"Unknown G source {source!r}. Use one of {sorted(GAMMA_SOURCES)} "
            "or pass a callable (loss, y, y_pred, sample_weight) -> scalar."
        )
    return GAMMA_SOURCES[source]
