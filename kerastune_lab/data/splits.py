"""Seeded, stratified train / validation / test splits."""

import numpy as np

from kerastune_lab.errors import UserError


def stratified_split(labels, val_split, test_split, seed):
    """Index arrays (train, val, test), each class split in proportion.

    Every class puts round(n_c * fraction) of its examples into validation
    and test, and at least one into each split that is asked for, so small
    classes are never missing from a split.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts = {"train": [], "val": [], "test": []}
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n = len(idx)
        n_val = max(1, round(n * val_split)) if val_split else 0
        n_test = max(1, round(n * test_split)) if test_split else 0
        if n - n_val - n_test < 1:
            raise UserError(
                f"Class {cls!r} has only {n} example(s): too few for a "
                f"train/validation/test split ({val_split:g}/{test_split:g})."
                " Add examples or lower data.val_split / data.test_split."
            )
        parts["val"].append(idx[:n_val])
        parts["test"].append(idx[n_val : n_val + n_test])
        parts["train"].append(idx[n_val + n_test :])
    return tuple(
        rng.permutation(np.concatenate(parts[k])).astype(np.int64)
        for k in ("train", "val", "test")
    )
