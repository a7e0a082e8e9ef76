"""A round's curves: the incumbent and each candidate, over seeds."""

import numpy as np

from kerastune_lab.reports.plot_comparison import plot_band


def plot_round(configurations, path, title=""):
    """Training and validation loss per epoch of each configuration: mean
    over seeds with a min-max band; a dot at each seed's kept epoch.

    Args:
        configurations: {label: {seed: RoundRun}}, the incumbent first.
        path: The PNG to write.
        title: The figure's title.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 4.2))
    axes = fig.subplots(1, 2)
    for label, runs in configurations.items():
        runs = list(runs.values())
        for ax, curve in zip(axes, ("loss", "val_loss")):
            series = [np.asarray(getattr(r, curve), dtype=float) for r in runs]
            plot_band(ax, np.arange(max(map(len, series))), series, label)
        color = axes[1].lines[-1].get_color()
        axes[1].plot(
            [r.kept_epoch for r in runs],
            [r.val_loss[r.kept_epoch] for r in runs],
            "o",
            color=color,
            ms=4,
        )
    for ax, name in zip(axes, ("training loss", "validation loss")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    axes[1].set_title("dots: each seed's kept epoch", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
