"""Data loading: embedded sets, CSV files, synthetic tasks, splits."""

from kerastune_lab.data.text_classification_data import (
    TextClassificationData,
    load_text_classification,
)

__all__ = ["TextClassificationData", "load_text_classification"]
