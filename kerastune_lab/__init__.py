"""kerastune-lab: run, compare and diagnose Keras hyperparameter experiments.

Heavy modules (Keras, TensorFlow) load only when a submodule that needs them
is imported, so `kerastune-lab --help` and config validation stay fast.
"""

__version__ = "0.1.0"
