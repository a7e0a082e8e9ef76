import keras
import numpy as np
import pytest

from kerastune_lab.models import build_gru_classifier


def test_shapes_and_layers():
    model = build_gru_classifier(
        vocab_size=50, num_classes=3, embedding_dim=8, gru_units=6
    )
    out = model.predict(np.array([[3, 4, 5, 0]]), verbose=0)
    assert out.shape == (1, 3)
    np.testing.assert_allclose(out.sum(), 1.0, rtol=1e-5)
    gru = model.get_layer("gru_0")
    assert gru.dropout == 0.2 and gru.recurrent_dropout == 0.2


def test_depth_bidirectional_and_dense_head():
    model = build_gru_classifier(
        vocab_size=50,
        num_classes=2,
        embedding_dim=8,
        gru_units=6,
        num_layers=2,
        bidirectional=True,
        dense_units=5,
        batch_norm=True,
        activation="gelu",
    )
    names = [layer.name for layer in model.layers]
    assert names[2:4] == ["bidirectional_0", "bidirectional_1"]
    assert model.get_layer("bidirectional_0").forward_layer.return_sequences
    assert not model.get_layer(
        "bidirectional_1"
    ).forward_layer.return_sequences
    assert "hidden_bn" in names
    assert model.get_layer("hidden_activation").activation.__name__ == "gelu"
    # GRU params: 3 * (units * (in + units) + 2 * units) with reset_after.
    first = 2 * 3 * (6 * (8 + 6) + 2 * 6)
    assert model.get_layer("bidirectional_0").count_params() == first


def test_padding_is_masked():
    keras.utils.set_random_seed(0)
    model = build_gru_classifier(
        vocab_size=30,
        num_classes=2,
        gru_units=4,
        num_layers=2,
        bidirectional=True,
    )
    tokens = [5, 9, 2, 7]
    short = np.array([tokens])
    padded = np.array([tokens + [0] * 6])
    np.testing.assert_allclose(
        model.predict(short, verbose=0),
        model.predict(padded, verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("l1, l2", [(1e-3, 0.0), (0.0, 1e-3), (1e-3, 1e-3)])
def test_kernel_penalties_reach_the_loss(l1, l2):
    model = build_gru_classifier(
        vocab_size=30, num_classes=2, gru_units=4, l1=l1, l2=l2
    )
    model(np.array([[1, 2, 3]]))
    # embedding, GRU kernel and recurrent kernel, classifier kernel
    assert len(model.losses) == 4
    assert float(sum(model.losses)) > 0
    plain = build_gru_classifier(vocab_size=30, num_classes=2, gru_units=4)
    plain(np.array([[1, 2, 3]]))
    assert plain.losses == []


def test_readme_head_replacement_trains():
    model = build_gru_classifier(vocab_size=40, num_classes=4, gru_units=8)
    features = model.get_layer("classifier").input
    x = keras.layers.Dense(6, activation="gelu")(features)
    outputs = keras.layers.Dense(4, activation="softmax")(x)
    model = keras.Model(model.input, outputs)
    model.compile(
        "adam", "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    rng = np.random.default_rng(0)
    history = model.fit(
        rng.integers(1, 40, size=(32, 7)),
        rng.integers(0, 4, size=32),
        epochs=1,
        verbose=0,
    )
    assert np.isfinite(history.history["loss"][0])
