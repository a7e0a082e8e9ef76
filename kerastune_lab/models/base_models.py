"""The keras.applications trunks a transfer model can use, by name.

Names, minimum sizes and where Keras keeps each trunk, without importing
Keras: the configuration's choices come from here.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class BaseModel:
    """A keras.applications trunk and the input it expects, by name (the
    choices are known without importing Keras)."""

    application: str  # the class in keras.applications
    module: str  # the keras.applications module with its preprocess_input
    min_size: int

    @property
    def constructor(self):
        import keras

        return getattr(keras.applications, self.application)

    @property
    def preprocess_input(self):
        import keras

        return getattr(keras.applications, self.module).preprocess_input


BASE_MODELS = {
    "mobilenet_v2": BaseModel("MobileNetV2", "mobilenet_v2", 32),
    "inception_resnet_v2": BaseModel(
        "InceptionResNetV2", "inception_resnet_v2", 75
    ),
}
