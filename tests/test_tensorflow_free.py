"""Text data and text runs need no TensorFlow, and give the same ids on
every backend; TensorFlow (where image data needs it) stays off the GPUs
of another backend."""

import json
import pathlib

import numpy as np
from text_data_arrays import text_data_arrays


def test_text_runs_train_and_predict_where_tensorflow_cannot_load(
    tensorflow_free,
):
    report, _ = tensorflow_free
    assert not report["tensorflow_imported"]
    for name in ("gru_run", "masked_lm_run"):
        record = json.loads(
            (pathlib.Path(report[name]) / "config.json").read_text()
        )
        assert record["backend"] == "jax"
        assert "tensorflow" not in record["versions"]
    classes = {"limerick", "murphy", "startrek", "zippy"}
    gru = report["gru_predict"]
    assert gru["exit_code"] == 0, gru["output"]
    lines = gru["output"].strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith('"There once was')
    assert {
        pair.rsplit(" ", 1)[0] for pair in lines[0].split(": ")[1].split(", ")
    } == classes
    masked = report["masked_lm_predict"]
    assert masked["exit_code"] == 0, masked["output"]
    # One line per [MASK]: 1 in the first text, 2 in the second.
    assert len(masked["output"].strip().splitlines()) == 3
    image = report["image_run"]
    assert image["exit_code"] == 2
    assert (
        "TensorFlow" in image["output"]
        and "Traceback" not in (image["output"])
    )


def test_the_same_ids_splits_and_masks_on_tensorflow_and_on_jax(
    tensorflow_free,
):
    """This process (TensorFlow backend, TensorFlow importable) prepares
    the same data as the JAX process where TensorFlow could not load."""
    _, jax_arrays = tensorflow_free
    arrays = text_data_arrays()
    assert sorted(arrays) == sorted(jax_arrays)
    for name, array in arrays.items():
        np.testing.assert_array_equal(array, jax_arrays[name], err_msg=name)
    # Not a trivially equal pair: real vocabularies, real masks.
    assert len(arrays["fortunes_vocabulary"]) > 5000
    assert len(arrays["pydoc_vocabulary"]) == 500
    assert (arrays["pydoc_val_ids"] == 4).mean() > 0.05  # [MASK] shown


def test_tensorflow_for_image_data_keeps_off_the_gpus_of_another_backend(
    monkeypatch,
):
    import keras
    import tensorflow as tf

    from kerastune_lab.data.import_tensorflow import import_tensorflow

    calls = []
    monkeypatch.setattr(
        tf.config,
        "set_visible_devices",
        lambda devices, kind: calls.append((devices, kind)),
    )
    assert import_tensorflow("images") is tf
    assert calls == []  # Keras trains on TensorFlow here: its GPUs stay
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    import_tensorflow("images")
    assert calls == [([], "GPU")]


def test_loading_another_backend_keeps_tensorflow_off_the_gpus(monkeypatch):
    """keras-hub imports TensorFlow wherever it is installed: every process
    that loads a JAX or torch backend hides the GPUs from it at once."""
    import keras
    import tensorflow as tf

    from kerastune_lab.load_backend_quietly import load_backend_quietly

    calls = []
    monkeypatch.setattr(
        tf.config,
        "set_visible_devices",
        lambda devices, kind: calls.append((devices, kind)),
    )
    load_backend_quietly()
    assert calls == []  # Keras trains on TensorFlow here
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    load_backend_quietly()
    assert calls == [([], "GPU")]
