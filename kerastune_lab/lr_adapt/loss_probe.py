"""The loss probe: carries the batch loss into the optimizer on any backend.

During `fit` the model gets one extra trainable float32 vector p = [0, 0]
(`LossAdaptiveLR` detaches it when `fit` ends), and its `compute_loss`
returns `L + p . stop_gradient([L, G])`, where L is the total loss that
is minimised and G the loss signal computed from the data loss (L less
the regularisation penalties of `model.losses`). The value is unchanged
(p stays 0: `LossAdaptiveOptimizer` removes its gradient before any
update), while the gradient of p is exactly `[L, G]` of this batch. That
gradient flows through the normal train step of TensorFlow and JAX (the
backends it is tested on), so the loss-adaptive rules run inside the
compiled step with no host round trip.
"""

import functools
import inspect

import keras
from keras import ops

from kerastune_lab.keras_internals import (
    aggregate_additional_loss,
    delete_untracked_attribute,
    own_variables,
    set_untracked_attribute,
    track_variable,
    unscale_loss_for_distribution,
    untrack_variable,
)

_ATTR = "_kerastune_loss_probe"


class LossProbe:
    """Attaches and removes the loss probe of a compiled Keras model.

    Args:
        model: The `keras.Model`.
        gamma_source: Callable `(loss, y, y_pred, sample_weight) -> scalar`
            giving G (see `gamma_sources`).
    """

    def __init__(self, model, gamma_source):
        self.model = model
        self.gamma_source = gamma_source
        self.variable = keras.Variable(
            initializer="zeros",
            shape=(2,),
            dtype="float32",
            trainable=True,
            name="loss_probe",
        )
        self._original_compute_loss = model.compute_loss
        # The model's methods the probe replaces while attached. The probe
        # is training machinery, not part of the model: files written by
        # model.save / save_weights load into a model that never had one,
        # and get_weights / set_weights (EarlyStopping's best weights) take
        # the lists of such a model.
        self._methods = {
            "compute_loss": self._compute_loss(),
            "save_own_variables": self._save_own_variables,
            "load_own_variables": self._load_own_variables,
            "get_weights": self._get_weights,
            "set_weights": self._set_weights,
        }

    @classmethod
    def attach(cls, model, gamma_source):
        """Returns the model's probe, attaching a new one if it has none."""
        probe = cls.get(model) or cls(model, gamma_source)
        probe.gamma_source = gamma_source
        probe.reattach()
        return probe

    def reattach(self):
        """Puts this probe (back) on its model, as the last of the model's
        own trainable variables: where it was before a `detach`, so a train
        step compiled with it still fits."""
        model = self.model
        if LossProbe.get(model) is self:
            return
        # Past the model's tracker, which would adopt the probe variable a
        # second time through these attributes.
        set_untracked_attribute(model, _ATTR, self)
        for name, method in self._methods.items():
            set_untracked_attribute(model, name, method)
        track_variable(model, self.variable)

    @staticmethod
    def get(model):
        return vars(model).get(_ATTR)

    @classmethod
    def detach(cls, model):
        """Removes the probe; the model is exactly as before `attach`."""
        probe = cls.get(model)
        if probe is None:
            return
        for name in (_ATTR, *probe._methods):
            delete_untracked_attribute(model, name)
        untrack_variable(model, probe.variable)

    def _own_variables(self):
        return [v for v in own_variables(self.model) if v is not self.variable]

    def _save_own_variables(self, store):
        for i, v in enumerate(self._own_variables()):
            store[f"{i}"] = v

    def _get_weights(self):
        return [
            v.numpy() for v in self.model.weights if v is not self.variable
        ]

    def _set_weights(self, weights):
        # Keras's own checks and messages, on the weights without the probe.
        untrack_variable(self.model, self.variable)
        try:
            type(self.model).set_weights(self.model, weights)
        finally:
            track_variable(self.model, self.variable)

    def _load_own_variables(self, store):
        own = self._own_variables()
        if len(store.keys()) != len(own):
            raise ValueError(
                f"Model '{self.model.name}' expected {len(own)} own "
                f"variables, but the file has {len(store.keys())}."
            )
        for i, v in enumerate(own):
            v.assign(store[f"{i}"])

    def _compute_loss(self):
        original = self._original_compute_loss
        passes_training = "training" in inspect.signature(original).parameters

        @functools.wraps(original)
        def compute_loss(
            x=None, y=None, y_pred=None, sample_weight=None, training=True
        ):
            kwargs = {"training": training} if passes_training else {}
            loss = original(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, **kwargs
            )
            if not training:
                return loss
            # Under tf.distribute each replica's loss is its share, scaled
            # by 1 / replicas; the signal carries this replica's own means
            # and the optimizer averages them over the replicas.
            total = unscale_loss_for_distribution(loss)
            gamma = self.gamma_source(
                self._data_loss(total), y, y_pred, sample_weight
            )
            signal = ops.stop_gradient(
                ops.stack(
                    [ops.cast(total, "float32"), ops.cast(gamma, "float32")]
                )
            )
            return loss + ops.cast(ops.sum(self.variable * signal), loss.dtype)

        return compute_loss

    def _data_loss(self, total):
        """The compiled (data) loss: Keras's total less the penalties of
        `model.losses` (L1/L2, activity regularisers, add_loss), which
        Trainer.compute_loss adds to it. G is defined on the data loss."""
        model = self.model
        if type(model).compute_loss is not keras.Model.compute_loss:
            return total  # a custom total: the model defines what it is
        penalties = [
            unscale_loss_for_distribution(
                aggregate_additional_loss(model, loss)
            )
            for loss in model.losses
        ]
        if not penalties:
            return total
        return total - ops.cast(ops.sum(penalties), total.dtype)
