"""Every private part of Keras (and keras-hub) that kerastune-lab uses,
one small function each.

Keras 3 has no public way to carry a batch's loss into the optimizer
inside the compiled step, to scale the rate its update reads, or to add a
variable to a built model. The functions here do those things through
Keras's private attributes, so that nothing else in the package touches
them. tests/test_keras_internals.py checks each one by its behaviour (not
by its name); setup.cfg bounds Keras to the versions that file passed on.
A new Keras that moves one of them fails there first, naming it.

Bottom layer: this module imports no other part of the package. Add new
internals here, in the section of the object they reach into, with the
reason they are needed.
"""

from keras.src.losses.loss import (
    unscale_loss_for_distribution as _unscale_loss,
)

# -- Python attributes outside Keras's automatic tracking ----------------


def set_untracked_attribute(obj, name, value):
    """Sets `obj.name = value` past Layer/Optimizer `__setattr__`, whose
    tracker would adopt a variable held by `value` as the object's own."""
    object.__setattr__(obj, name, value)


def delete_untracked_attribute(obj, name):
    """Deletes an attribute set by `set_untracked_attribute`."""
    object.__delattr__(obj, name)


# -- models ------------------------------------------------------------


def track_variable(model, variable):
    """Makes `variable` one of the model's own trainable weights after the
    model is built (its tracker is locked then)."""
    tracker = model._tracker
    was_locked = tracker.locked
    tracker.unlock()
    try:
        model._track_variable(variable)
    finally:
        if was_locked:
            tracker.lock()


def untrack_variable(model, variable):
    """Removes a variable that `track_variable` added."""
    model._untrack_variable(variable)


def own_variables(layer):
    """The variables a layer owns itself (not its sub-layers'), in the
    order its `save_own_variables` stores them."""
    return layer._trainable_variables + layer._non_trainable_variables


def aggregate_additional_loss(model, loss):
    """One entry of `model.losses` reduced as `Model.compute_loss` adds it
    to the compiled loss."""
    return model._aggregate_additional_loss(loss)


def unscale_loss_for_distribution(loss):
    """Undoes the 1 / replicas scaling a tf.distribute replica's loss has
    in the train step (identity on one device and on JAX)."""
    return _unscale_loss(loss)


def set_restored_epoch(model, epoch):
    """Makes `fit` start at `epoch`, as `BackupAndRestore` does when it
    restores a backup in `on_train_begin`: `fit` reads the model's
    `_initial_epoch` after that hook, in preference to its own argument."""
    model._initial_epoch = epoch


def forget_restored_epoch(model):
    """Clears the epoch a backup restored onto `model`: `fit` prefers it
    to its own `initial_epoch`, so the next phase of a two-phase run would
    start where an earlier phase's backup was."""
    model._initial_epoch = None


# -- optimizers --------------------------------------------------------


def scheduled_rate_getter(optimizer):
    """The optimizer's own rate getter: its float rate or its schedule at
    the current step, as the optimizer's class defines it."""
    return type(optimizer)._get_current_learning_rate.__get__(optimizer)


def replace_rate_getter(optimizer, getter):
    """Makes every reader of this optimizer's rate (its update step,
    AdamW's decoupled decay, `optimizer.learning_rate`) call `getter()`."""
    set_untracked_attribute(optimizer, "_get_current_learning_rate", getter)


def restore_rate_getter(optimizer):
    """Undoes `replace_rate_getter`."""
    if "_get_current_learning_rate" in vars(optimizer):
        delete_untracked_attribute(optimizer, "_get_current_learning_rate")


def raw_learning_rate(optimizer):
    """The optimizer's rate as given: a float variable or a schedule."""
    return optimizer._learning_rate


def built_trainable_variables(optimizer):
    """The variables the optimizer was built for, in its gradient order
    (what `apply(grads)` without variables updates)."""
    return optimizer._trainable_variables


def variable_index(optimizer, variable):
    """Position of `variable` in the list the optimizer was built for (the
    index of its slots in `add_optimizer_variables` lists)."""
    return optimizer._get_variable_index(variable)


def clip_gradients(optimizer, grads):
    """The gradients as the optimizer's clipnorm, global_clipnorm or
    clipvalue would clip them."""
    return optimizer._clip_gradients(grads)


def uses_weight_decay(optimizer, variable):
    """False for a variable `exclude_from_weight_decay` named."""
    return optimizer._use_weight_decay(variable)


# -- keras-hub presets ---------------------------------------------------


def preset_file(preset, path):
    """The local path of one file of a keras-hub preset: a preset name
    (downloaded once, then Keras's cache), a Kaggle or Hugging Face handle,
    or a local folder. keras-hub's own loaders build TensorFlow-backed
    tokenizers; this reads the preset's files without them."""
    from keras_hub.src.utils.preset_utils import get_file

    return get_file(preset, path)
