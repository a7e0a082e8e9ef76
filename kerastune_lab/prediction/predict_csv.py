"""Classifies the texts of a CSV file into a CSV file."""

import csv
import io
import pathlib

from kerastune_lab.errors import UserError
from kerastune_lab.run_directory import write_text_atomic

LABEL_COLUMN = "predicted_label"


def read_csv_texts(path, text_column="text"):
    """(rows as dicts, column names) of a UTF-8 CSV file with a header row
    and a `text_column`."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise UserError(
            f"CSV file {str(path)!r} does not exist. Pass a CSV file with a "
            f"header row and a {text_column!r} column."
        )
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            if text_column not in columns:
                raise UserError(
                    f"{path}: no column {text_column!r} in the header "
                    f"(columns: {', '.join(columns) or 'none'}). Name the "
                    "column that holds the text with --text-column NAME."
                )
            rows = [
                {key: value or "" for key, value in row.items() if key}
                for row in reader
            ]
    except (UnicodeDecodeError, csv.Error) as error:
        raise UserError(
            f"{path} is not a readable UTF-8 CSV ({error}); save it as "
            "UTF-8 with a header row."
        ) from None
    if not rows:
        raise UserError(f"{path} has a header but no rows to classify.")
    return rows, columns


def probability_column(class_name):
    return f"probability_{class_name}"


def predict_csv(classifier, path, out=None, text_column="text"):
    """Classifies the `text_column` of every row of CSV file `path`.

    Writes the rows, with all their columns, plus `predicted_label` and
    one `probability_<class>` column per class, to `out` (default:
    `<name>-predictions.csv` beside `path`); these cells stay empty for a
    text without a single word.

    Args:
        classifier: A `RunClassifier` of texts (`load_predictor`).
        path: The CSV file (UTF-8, header row).
        out: The output CSV file.
        text_column: The column that holds the texts.

    Returns:
        The output file's path.
    """
    path = pathlib.Path(path)
    rows, columns = read_csv_texts(path, text_column)
    added = [LABEL_COLUMN, *map(probability_column, classifier.class_names)]
    taken = [c for c in added if c in columns]
    if taken:
        raise UserError(
            f"{path} already has the column(s) {', '.join(taken)} that "
            "predict writes; rename them first."
        )
    out = (
        pathlib.Path(out)
        if out
        else path.with_name(f"{path.stem}-predictions.csv")
    )
    if out.resolve() == path.resolve():
        raise UserError(
            f"--out {str(out)!r} is the input file; choose another name."
        )
    if not out.parent.is_dir():
        raise UserError(
            f"--out {str(out)!r}: folder {str(out.parent)!r} does not "
            "exist; create it or choose another path."
        )
    probabilities = classifier.predict_proba([r[text_column] for r in rows])
    labels = [
        names[0][0] if names else None
        for names in classifier.top_classes(probabilities, 1)
    ]
    text = io.StringIO()
    writer = csv.DictWriter(text, [*columns, *added], lineterminator="\n")
    writer.writeheader()
    for row, label, p in zip(rows, labels, probabilities):
        # A text without a word gets empty cells: nothing was classified.
        row[LABEL_COLUMN] = label or ""
        row.update(
            zip(added[1:], ("" if label is None else f"{v:.6g}" for v in p))
        )
        writer.writerow(row)
    write_text_atomic(out, text.getvalue())
    return out
