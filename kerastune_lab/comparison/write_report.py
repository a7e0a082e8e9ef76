"""report.md and a self-contained report.html for a comparison."""

import math

from kerastune_lab.analysis.html_page import render_html


def _fmt(mean, low, high):
    if math.isnan(low):
        return f"{mean:.4g}"
    return f"{mean:.4g} [{low:.4g}, {high:.4g}]"


def _table(rows, grid_keys):
    figures = [("final_eval_loss", "final eval loss"),
               ("best_eval_loss", "best eval loss"),
               ("final_eval_perplexity", "eval perplexity"),
               ("final_train_loss", "final train loss"),
               ("train_eval_gap", "eval - train gap")]
    if "test_accuracy_mean" in rows[0]:
        figures.append(("test_accuracy", "test accuracy"))
    header = [k.split(".")[-1] for k in grid_keys] + ["seeds"] + \
        [label for _, label in figures] + ["overfitting seeds"]
    body = []
    for row in rows:
        body.append([str(row[k]) for k in grid_keys] + [str(row["seeds"])] + [
            _fmt(row[f"{f}_mean"], row[f"{f}_ci_low"], row[f"{f}_ci_high"])
            for f, _ in figures] + [str(row["overfitting_seeds"])])
    return header, body


def write_report(out, title, study, rows, comparisons, images):
    """Writes out/report.md and out/report.html; returns both paths."""
    grid_keys = list(study["config"]["grid"])
    header, body = _table(rows, grid_keys)
    real = [c for c in comparisons if c.real]
    other = [c for c in comparisons if not c.real]
    overfit = [r for r in rows if r["overfitting_seeds"] * 2 > r["seeds"]
               or r["train_eval_gap_mean"] > 0.25 * abs(
                   r["final_train_loss_mean"])]
    lines = [f"# {title}", "",
             f"Study: `{study['config_path']}`, "
             f"{len(rows)} cells x {len(study['seeds'])} seed(s) "
             f"({', '.join(map(str, study['seeds']))}).", "",
             "Figures are means over seeds with a 95% t confidence "
             "interval in brackets (none with one seed).", "",
             "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    lines += ["", "## Which differences are real",
              "Each level of each grid axis against the axis's first level, "
              "other axes fixed, paired by seed (t-test on the per-seed "
              "differences, alpha 0.05).", ""]
    if real:
        lines += [f"- **{c.sentence()}**" for c in real]
    else:
        lines.append("- No difference is statistically real at this number "
                     "of seeds.")
    lines += [f"- {c.sentence()}" for c in other]
    lines += ["", "## Overfitting", ""]
    if overfit:
        lines += [
            f"- {', '.join(f'{k}={r[k]}' for k in grid_keys)}: "
            f"{r['overfitting_seeds']}/{r['seeds']} seeds diagnosed "
            f"overfitting; eval - train gap {r['train_eval_gap_mean']:.4g}"
            for r in overfit]
    else:
        lines.append("- No cell overfits (diagnosis of each run, and the "
                     "eval-train gap).")
    lines += ["", "## Figures", ""]
    lines += [f"![{name}]({name})" for name in images]
    markdown = "\n".join(lines) + "\n"
    (out / "report.md").write_text(markdown)
    (out / "report.html").write_text(render_html(title, markdown, out))
    return out / "report.md", out / "report.html"
