"""The devices runs train on: the NVIDIA GPUs a process may use (found
without starting a backend), the share of a GPU's memory given to each
process that shares it, and the device a run actually trained on.

Light on purpose: nothing here imports Keras or a backend at module
level, so the process that plans a study can use it and leave the GPUs to
its workers.
"""
