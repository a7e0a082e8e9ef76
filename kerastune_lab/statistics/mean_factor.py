"""The rate-weighted mean SD factor of one run."""

import numpy as np


def mean_factor(steps):
    """Rate-weighted mean SD factor of one run's steps.csv columns: the
    sum of the rates used over the sum of the rates scheduled, so a run
    at factor f and a plain run at f times its rate take the same total
    step size.

    Example:

    >>> mean_factor({"lr": [2.0, 6.0], "factor": [2.0, 3.0]})
    2.6666666666666665
    """
    used = np.asarray(steps["lr"], dtype=float)
    factor = np.asarray(steps["factor"], dtype=float)
    keep = np.isfinite(used) & np.isfinite(factor) & (factor > 0)
    return float(used[keep].sum() / (used[keep] / factor[keep]).sum())
