"""curves.png: the epoch curves and the per-step loss and rate of a run."""

from matplotlib.figure import Figure


def draw_no_skill(ax, no_skill_loss):
    """The no-skill loss as a labelled dashed line (None or NaN: none)."""
    if no_skill_loss is not None and no_skill_loss == no_skill_loss:
        ax.axhline(
            no_skill_loss,
            color="black",
            ls="--",
            lw=0.8,
            label=f"no skill ({no_skill_loss:.3g})",
        )


def plot_curves(history, steps, path, title="", no_skill_loss=None):
    """Saves a 3-panel figure: losses, metrics per epoch; batch loss and rate.

    Args:
        history: Mapping of per-epoch lists (loss, val_loss, metrics).
        steps: Mapping of per-step lists (step, loss, lr), or None.
        path: PNG file to write.
        title: Figure title.
        no_skill_loss: The eval loss of a model that learned nothing, drawn
            as a dashed line (None or NaN: not drawn).
    """
    metrics = sorted(
        k
        for k in history
        if not k.startswith("val_") and k not in ("loss", "lr", "epoch")
    )
    fig = Figure(figsize=(15, 4))
    axes = fig.subplots(1, 3)
    epochs = range(len(history["loss"]))
    ax = axes[0]
    ax.plot(epochs, history["loss"], label="train loss")
    if "val_loss" in history:
        ax.plot(epochs, history["val_loss"], label="validation loss")
    draw_no_skill(ax, no_skill_loss)
    ax.set(xlabel="epoch", ylabel="loss", title="Loss per epoch")
    ax.legend()
    ax = axes[1]
    for metric in metrics:
        ax.plot(epochs, history[metric], label=f"train {metric}")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], label=f"val {metric}")
    ax.set(xlabel="epoch", title="Metrics per epoch")
    if metrics:
        ax.legend()
    ax = axes[2]
    if steps and steps.get("step"):
        ax.plot(
            steps["step"],
            steps["loss"],
            lw=0.6,
            color="tab:gray",
            label="batch loss",
        )
        ax.set(xlabel="optimizer step", ylabel="batch loss", title="Per step")
        rate_ax = ax.twinx()
        rate_ax.plot(
            steps["step"],
            steps["lr"],
            color="tab:red",
            lw=1.0,
            label="learning rate used",
        )
        rate_ax.set_ylabel("learning rate", color="tab:red")
        ax.legend(loc="upper right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
