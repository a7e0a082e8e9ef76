import collections

import numpy as np
import pytest

from kerastune_lab.config import load_experiment
from kerastune_lab.data import load_text_classification
from kerastune_lab.data.csv_texts import load_csv_texts
from kerastune_lab.data.fortunes import load_fortunes
from kerastune_lab.data.splits import stratified_split
from kerastune_lab.data.synthetic_sequences import make_synthetic_sequences
from kerastune_lab.errors import UserError


def write_csv(path, rows, header="text,label"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_fortunes_is_a_real_four_class_set():
    texts, labels, names = load_fortunes()
    assert names == ["limerick", "murphy", "startrek", "zippy"]
    assert collections.Counter(labels) == {0: 770, 1: 776, 2: 202, 3: 548}
    assert not any("FreeBSD" in t for t in texts)
    assert any("Zippy" in t for t, y in zip(texts, labels) if y == 3)


def test_csv_loader_reads_named_columns(tmp_path):
    path = write_csv(
        tmp_path / "d.csv",
        ['"good, very good",pos', "bad,neg", "fine,pos", '"",neg'],
        header="body,sentiment",
    )
    texts, labels, names = load_csv_texts(path, "body", "sentiment")
    assert names == ["neg", "pos"]
    assert texts == ["good, very good", "bad", "fine"]  # empty row dropped
    assert labels == [1, 0, 1]


@pytest.mark.parametrize(
    "rows, header, match",
    [
        (["a,x", "b,y"], "text,category", "no column 'label'"),
        (["a,x", "b,x"], "text,label", "single class"),
        ([], "text,label", "no rows"),
    ],
)
def test_csv_loader_errors_say_what_to_fix(tmp_path, rows, header, match):
    path = write_csv(tmp_path / "d.csv", rows, header)
    with pytest.raises(UserError, match=match):
        load_csv_texts(path)


def test_missing_csv_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_csv_texts(tmp_path / "nope.csv")


def test_stratified_split_is_seeded_disjoint_and_proportional():
    labels = np.array([0] * 700 + [1] * 200 + [2] * 100)
    a = stratified_split(labels, 0.2, 0.1, seed=3)
    b = stratified_split(labels, 0.2, 0.1, seed=3)
    c = stratified_split(labels, 0.2, 0.1, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    train, val, test = a
    assert len(set(train) | set(val) | set(test)) == 1000
    assert len(train) + len(val) + len(test) == 1000
    for cls, n in [(0, 700), (1, 200), (2, 100)]:
        assert np.sum(labels[val] == cls) == round(0.2 * n)
        assert np.sum(labels[test] == cls) == round(0.1 * n)


def test_tiny_class_cannot_be_split():
    with pytest.raises(UserError, match="too few"):
        stratified_split(np.array([0] * 10 + [1, 1]), 0.2, 0.2, seed=0)


def bigram_model_accuracy(difficulty):
    """Test accuracy of a bag-of-bigrams logistic regression trained on
    the task: it knows nothing of how the task plants its signal."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    x, y = make_synthetic_sequences(
        3000, difficulty, num_classes=2, vocab_size=1000, seed=0
    )
    texts = [" ".join(f"t{t}" for t in row if t) for row in x]
    features = CountVectorizer(ngram_range=(2, 2)).fit_transform(texts)
    model = LogisticRegression(C=10.0, max_iter=2000)
    model.fit(features[:2000], y[:2000])
    return model.score(features[2000:], y[2000:])


def test_synthetic_difficulty_controls_how_separable_the_task_is():
    easy, medium, hard = (bigram_model_accuracy(d) for d in (0.0, 0.5, 1.0))
    assert easy > 0.95
    assert easy > medium + 0.03 and medium > hard + 0.03
    assert hard < 0.7


def test_synthetic_size_lengths_and_padding():
    x, y = make_synthetic_sequences(
        500, 0.3, num_classes=3, sequence_length=40, seed=1
    )
    assert x.shape == (500, 40) and y.shape == (500,)
    assert set(np.unique(y)) == {0, 1, 2}
    lengths = np.sum(x != 0, axis=1)
    assert lengths.min() >= 20 and lengths.max() == 40
    # Right padding only: no token after the first 0.
    for row, n in zip(x, lengths):
        assert np.all(row[:n] != 0) and np.all(row[n:] == 0)


def test_vocabulary_is_fitted_on_the_training_split_only(tmp_path):
    rows = [f"common{i % 3} word{i},{'ab'[i % 2]}" for i in range(60)]
    rows += ["onlyintest zzz,a", "onlyintest yyy,b"]
    path = write_csv(tmp_path / "d.csv", rows)
    config = load_experiment(
        None,
        [f'data.path="{path}"', 'data.name="csv"', "data.sequence_length=4"],
    )
    data = load_text_classification(config.data, seed=0)
    assert data.x_train.shape[1] == 4
    assert data.vocab_size < 2 + 3 + 60  # pad, OOV, common*, words seen
    train_tokens = set(np.unique(data.x_train))
    # Words never seen in training map to the OOV id 1.
    held_out = np.concatenate([data.x_val, data.x_test])
    assert set(np.unique(held_out)) <= train_tokens | {1}
    assert len(data.y_train) + len(data.y_val) + len(data.y_test) == 62
