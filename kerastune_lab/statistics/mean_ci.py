"""A mean over seeds with its 95% t interval."""

import math

import numpy as np
from scipy import stats


def mean_ci(values, confidence=0.95):
    """(mean, low, high): the mean and scipy's t interval; NaN bounds for
    one value or a non-finite one, the mean itself for identical ones.

    Example:

    >>> mean, low, high = mean_ci([1.0, 2.0, 3.0])
    >>> mean, round(low, 3), round(high, 3)
    (2.0, -0.484, 4.484)
    """
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2 or not np.isfinite(values).all():
        return mean, math.nan, math.nan
    sem = stats.sem(values)
    if sem == 0:
        return mean, mean, mean
    low, high = stats.t.interval(confidence, len(values) - 1, mean, sem)
    return mean, float(low), float(high)
