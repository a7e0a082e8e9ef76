"""The base of optimizers whose update reads the batch's loss."""

import keras
from keras import ops

from kerastune_lab.keras_internals import clip_gradients
from kerastune_lab.lr_adapt.gradients import (
    dense_gradients,
    sum_over_replicas,
)


class LossReadingOptimizer(keras.optimizers.Optimizer):
    """An optimizer whose update needs each batch's loss value.

    Keras hands an optimizer gradients only. `LossAdaptiveOptimizer` (put
    in place by the `kerastune_lab.callbacks.LossAdaptiveLR` callback)
    has the batch's loss inside the compiled train step and calls
    `apply_with_loss`, which does what Keras's `apply` does (undo
    `loss_scale_factor`, clip, update, apply constraints, count the step)
    with the loss passed on to `update_with_loss`. Plain `apply`, as
    `model.fit` without that callback calls it, raises with that advice.

    Under tf.distribute the gradients are summed over the replicas first,
    so the update (and any quantity it sums over all variables) is the
    global batch's, the same on every replica. Gradient accumulation and
    EMA are refused.

    Subclasses implement `build` and `update_with_loss`.
    """

    def __init__(self, learning_rate, **kwargs):
        for name in ("gradient_accumulation_steps", "use_ema"):
            if kwargs.get(name):
                raise ValueError(
                    f"{type(self).__name__} reads the loss of the batch it "
                    f"updates from and does not support `{name}`. Received: "
                    f"{name}={kwargs[name]!r}"
                )
        super().__init__(learning_rate=learning_rate, **kwargs)

    def apply(self, grads, trainable_variables=None):
        raise ValueError(
            f"{type(self).__name__} sets each step from the batch's loss, "
            "which Keras does not pass to optimizers. Train with "
            "`kerastune_lab.callbacks.LossAdaptiveLR(mode='none')` among "
            "the callbacks of fit: it carries the loss into the update "
            "inside the train step (experiment files do this always)."
        )

    def apply_with_loss(self, grads, trainable_variables, loss):
        """Applies one update from the gradients and the batch's loss.

        Args:
            grads: Gradients of `loss`, one per variable (None: skipped).
            trainable_variables: The variables they belong to.
            loss: The batch's loss, a scalar (the global batch's).

        Returns:
            The rate this update used, on the scale of `learning_rate`
            (what `update_with_loss` returns).
        """
        pairs = [
            (g, v) for g, v in zip(grads, trainable_variables) if g is not None
        ]
        variables = [v for _, v in pairs]
        if not self.built:
            self.build(variables)
        grads = dense_gradients([g for g, _ in pairs])
        scale = self.loss_scale_factor
        if scale is not None:
            grads = [g / scale for g in grads]
        grads = clip_gradients(self, sum_over_replicas(grads))
        rate = self.update_with_loss(
            grads,
            variables,
            ops.cast(loss, "float32"),
            ops.cast(self.learning_rate, "float32"),
        )
        for variable in variables:
            if variable.constraint is not None:
                variable.assign(variable.constraint(variable))
        self.iterations.assign_add(1)
        return rate

    def update_with_loss(self, grads, variables, loss, learning_rate):
        """Updates the variables and slots; returns the rate it used.

        Args:
            grads: The unscaled, summed, clipped gradients (tensors).
            variables: Their variables.
            loss: The batch's loss (float32 scalar).
            learning_rate: This step's rate (float32 scalar; the
                optimizer's float rate or schedule at `iterations`).
        """
        raise NotImplementedError
