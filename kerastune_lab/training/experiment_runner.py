"""One run of an experiment as named steps, from set-up to diagnosis."""

import dataclasses
import math
import shutil
import time

import numpy as np

from kerastune_lab.analysis.diagnose_history import diagnose_history
from kerastune_lab.analysis.plot_curves import plot_curves
from kerastune_lab.callbacks.loss_adaptive_lr import LossAdaptiveLR
from kerastune_lab.devices.training_device import training_device
from kerastune_lab.errors import UserError
from kerastune_lab.families.registry import knobs_for
from kerastune_lab.figures import eval_loss
from kerastune_lab.keras_internals import forget_restored_epoch
from kerastune_lab.run_directory import (
    RunDirectory,
    environment_info,
    replaced_atomically,
)
from kerastune_lab.training.data_parallel import split_batches_evenly
from kerastune_lab.training.run_callbacks import (
    loss_adaptive_callback,
    phase_callbacks,
)
from kerastune_lab.training.task_setup import (
    compile_model,
    prepare_task,
    training_phases,
)


@dataclasses.dataclass
class RunResult:
    """What a run produced.

    Attributes:
        run_dir: Its run directory (a `pathlib.Path`).
        metrics: metrics.json's content.
        diagnosis: The `Diagnosis` of its curves.
        history: history.csv's columns.
    """

    run_dir: object
    metrics: dict
    diagnosis: object
    history: dict


class ExperimentRunner:
    """Trains one experiment into a run directory, step by named step.

    `run()` calls, in order: `prepare` (data and model), `open` (config.json
    and status.json, or the resume point of an interrupted run), one
    `train_phase` per training phase still to do, `evaluate` (the test
    split, once), `export` (metrics.json, model.keras) and `diagnose`
    (diagnosis.json, curves.png); status.json then says "complete". The
    steps share what they produce as attributes (`task`, `record`,
    `resume_epoch`, `metrics`, ...), so a subclass or a caller can run,
    replace or inspect any of them.

    Args:
        config: The `ExperimentConfig`.
        run_dir: The run's folder (created if needed).
        resume: Continue the interrupted run there from its last
            backed-up epoch.
        verbose: Keras's progress display (0, 1 or 2).
        echo: Prints a progress line.
        callbacks: Extra Keras callbacks, run after the built-in ones.
        edit_model: Optional `model -> model` applied to the built model
            (see `run_experiment`).
        replicas: Devices each batch is split over (data parallelism).
    """

    def __init__(
        self,
        config,
        run_dir,
        *,
        resume=False,
        verbose=2,
        echo=print,
        callbacks=(),
        edit_model=None,
        replicas=1,
    ):
        self.config = config
        self.run_dir = RunDirectory(run_dir)
        self.resume = resume
        self.verbose = verbose
        self.echo = echo
        self.extra_callbacks = tuple(callbacks)
        self.edit_model = edit_model
        self.replicas = replicas
        self.task = None
        self.record = None
        self.resume_epoch = 0
        self.wall_seconds = 0.0
        self.metrics = None

    def run(self) -> RunResult:
        begun = time.perf_counter()
        self.prepare()
        self.open()
        start = time.perf_counter()
        phases = training_phases(self.config)
        for number, phase in enumerate(phases):
            if phase.end <= self.resume_epoch:
                continue  # finished before the interruption
            if not self.train_phase(phase, number, last=phase is phases[-1]):
                break
        history = self.history()
        self.evaluate(history)
        self.wall_seconds = time.perf_counter() - start
        self.metrics["wall_seconds"] = round(self.wall_seconds, 3)
        self.export()
        diagnosis = self.diagnose(history)
        # All of it, set-up and files included: what `compare --dry-run`
        # estimates a study's time from.
        self.run_dir.write_status(
            "complete", seconds=round(time.perf_counter() - begun, 3)
        )
        return RunResult(self.run_dir.path, self.metrics, diagnosis, history)

    def prepare(self):
        """Seeds, loads the data, builds the model (edited if asked)."""
        task = prepare_task(self.config)
        self.dropped = split_batches_evenly(
            task, self.replicas, self.config.train.batch_size
        )
        if self.edit_model is not None:
            if task.export_model is not None:
                raise UserError(
                    "edit_model works on models that are saved as "
                    "trained; this task exports another model."
                )
            task.model = self.edit_model(task.model)
        self.task = task

    def open(self):
        """Writes config.json (a fresh run) and the "running" status, or
        finds where an interrupted run stopped."""
        task, run_dir = self.task, self.run_dir
        run_dir.path.mkdir(parents=True, exist_ok=True)
        self.record = {
            "config": self.config.to_dict(),
            "seed": self.config.train.seed,
            "data": task.data_summary,
            "no_skill_eval_loss": task.no_skill_eval_loss,
            **task.baselines,
            "replicas": self.replicas,
            **(
                {"dropped_for_even_batches": self.dropped}
                if self.dropped
                else {}
            ),
            **environment_info(),
            **training_device(),
        }
        if self.resume:
            self.resume_epoch = run_dir.backed_up_epoch()
        else:
            # A fresh start must not pick up an older run's backup.
            shutil.rmtree(run_dir.backup, ignore_errors=True)
            run_dir.write_record(self.record)
        run_dir.write_status("running", resumed_from_epoch=self.resume_epoch)
        self.echo(
            "Data: "
            + ", ".join(
                f"{k} {v}"
                for k, v in task.data_summary.items()
                if isinstance(v, int)
            )
        )
        if "device_note" in self.record:
            self.echo(f"Warning: {self.record['device_note']}")
        if self.resume_epoch:
            self.echo(
                f"Resuming after epoch {self.resume_epoch - 1} (0-based)"
            )
        fit_x = task.fit_data["x"]
        if hasattr(fit_x, "epoch"):
            fit_x.epoch = self.resume_epoch

    def train_phase(self, phase, number=0, last=True):
        """One `model.fit` over the phase's epochs; False if training
        stopped early (early stopping, or a non-finite loss)."""
        task, model = self.task, self.task.model
        if number:
            self.echo(
                f"Fine-tuning from epoch {phase.first} at learning rate "
                f"{phase.learning_rate:g}"
            )
            task.fine_tune(model)
        compile_model(task, self.config, phase.learning_rate, phase.epochs)
        loss_adaptive = loss_adaptive_callback(
            self.config, self.run_dir, task, phase.first
        )
        callbacks = phase_callbacks(
            self.config,
            self.run_dir,
            task,
            loss_adaptive,
            self.resume_epoch,
            phase.first,
            early_stopping=last,
        )
        # BackupAndRestore leaves the epoch it restored on the model, and
        # fit prefers it to initial_epoch: a later phase must not inherit
        # an earlier phase's.
        forget_restored_epoch(model)
        model.fit(
            **task.fit_data,
            initial_epoch=phase.first,
            epochs=phase.end,
            callbacks=callbacks + list(self.extra_callbacks),
            verbose=self.verbose,
        )
        return not model.stop_training

    def history(self):
        """history.csv's columns, without the epoch column."""
        history = self.run_dir.read_history()
        history.pop("epoch", None)
        return history

    def evaluate(self, history):
        """Scores the test split once and collects metrics.json's figures
        (the step counts come from steps.csv, so a resumed run counts the
        steps of its interrupted part too)."""
        task = self.task
        test = task.model.evaluate(
            **task.test_data, verbose=0, return_dict=True
        )
        metrics = {"test_loss": float(test["loss"])}
        metrics.update(
            {f"test_{k}": float(v) for k, v in test.items() if k != "loss"}
        )
        if task.perplexity:
            metrics["test_perplexity"] = math.exp(
                min(metrics["test_loss"], 700)
            )
        metrics.update(task.reference)
        val_loss = eval_loss(history)
        steps = self.run_dir.read_steps()
        losses = np.asarray(steps.get("loss", []), dtype=float)
        bad_loss = np.flatnonzero(~np.isfinite(losses))
        first_bad = int(steps["step"][bad_loss[0]]) if len(bad_loss) else None
        metrics.update(
            {
                # A diverged run may have no finite validation loss at all.
                "best_epoch": int(
                    np.argmin(
                        np.where(np.isfinite(val_loss), val_loss, np.inf)
                    )
                ),
                "stopped_epoch": len(history["loss"]) - 1,
                "epochs_run": len(history["loss"]),
                "nonfinite_gamma_steps": int(
                    np.sum(~np.isfinite(steps.get("gamma", [])))
                ),
                "first_nonfinite_loss_step": first_bad,
            }
        )
        self.metrics = metrics
        if first_bad is not None:
            self.echo(
                "Training diverged: the batch loss became non-finite at "
                f"optimizer step {first_bad}; updates from non-finite "
                "batches were skipped and the run stopped "
                + (
                    "right after it"
                    if self.config.train.stop_on_nonfinite == "batch"
                    else "at the end of that epoch"
                )
                + ". Everything up to then is in the run directory; see the"
                " advice of `kerastune-lab diagnose` (first: a lower "
                "train.learning_rate)."
            )

    def export(self):
        """The model (without the loss probe) as model.keras, the task's
        other files (`PreparedTask.export_files`), then metrics.json,
        which marks the run complete."""
        task = self.task
        LossAdaptiveLR.remove(task.model)
        with replaced_atomically(self.run_dir.model) as tmp:
            (task.export_model or task.model).save(tmp)
        for name, save in task.export_files.items():
            with replaced_atomically(self.run_dir.path / name) as tmp:
                save(tmp)
        self.run_dir.write_metrics(self.metrics)

    def diagnose(self, history):
        """diagnosis.json and curves.png; returns the `Diagnosis`."""
        steps = self.run_dir.read_steps()
        no_skill = self.task.no_skill_eval_loss
        diagnosis = diagnose_history(
            history,
            self.record["config"],
            initial_loss=steps["loss"][0],
            no_skill_loss=no_skill,
            step_losses=steps["loss"],
            knobs=knobs_for(self.record["config"]),
        )
        self.run_dir.write_diagnosis(diagnosis.to_dict())
        with replaced_atomically(self.run_dir.curves) as tmp:
            plot_curves(
                history,
                steps,
                tmp,
                title=f"{self.config.name}: {diagnosis.headline}",
                no_skill_loss=no_skill,
            )
        return diagnosis
