"""Using a trained run: its model on new inputs (text, CSV files, images).

>>> from kerastune_lab.prediction import load_predictor
"""

from kerastune_lab.prediction.load_predictor import load_predictor

__all__ = ["load_predictor"]
