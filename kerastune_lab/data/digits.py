"""The embedded real image set: scikit-learn's handwritten digits."""

import numpy as np


def load_digits_images():
    """scikit-learn's 1,797 UCI handwritten digits (8x8 grey, 10 classes)
    as RGB images with values 0-255, their labels and class names.

    It ships inside scikit-learn, so it works offline.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    # Pixel values are counts 0..16 of a 4x4 block of the original scan.
    images = (digits.images * (255.0 / 16.0)).astype("float32")
    images = np.repeat(images[..., None], 3, axis=-1)
    names = [str(name) for name in digits.target_names]
    return images, digits.target.astype("int64"), names
