"""The tiny GRU experiment that the comparison tests run as a study."""

TINY_GRU = """
[data]
name = "synthetic"
num_samples = 240
sequence_length = 16

[model]
name = "gru"
embedding_dim = 8
gru_units = 8
recurrent_dropout_rate = 0.0

[train]
early_stopping = false
epochs = 2
batch_size = 32
learning_rate = 3e-3
"""

GRID_2X2 = """
[grid]
"lr_adapt.mode" = ["none", "sd2"]
"train.schedule" = ["constant", "cosine"]
"""

CONTROLS = """
[grid]
"train.schedule" = ["constant"]
"lr_adapt.mode" = ["none", "sd2"]

[controls]
matched_rate = ["sd2"]
schedule_free = true
"""
