"""Where the loss signal G of SD / SD2 comes from.

A G source is a callable `(loss, y, y_pred, sample_weight) -> scalar`,
evaluated inside the compiled train step on the same batch as the update.
New sources (the masked-LM semantic-differential score, for example) are
registered in `GAMMA_SOURCES` and selected by name with `source=`.
"""


def batch_loss(loss, y, y_pred, sample_weight):
    """G = the batch's own training loss (what `logs["loss"]` averages)."""
    return loss


GAMMA_SOURCES = {"loss": batch_loss}


def get_gamma_source(source):
    """Returns the G source for a registered name or a callable."""
    if callable(source):
        return source
    if source not in GAMMA_SOURCES:
        raise ValueError(
            f"Unknown G source {source!r}. Use one of {sorted(GAMMA_SOURCES)} "
            "or pass a callable (loss, y, y_pred, sample_weight) -> scalar."
        )
    return GAMMA_SOURCES[source]
