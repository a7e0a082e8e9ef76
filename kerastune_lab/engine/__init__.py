"""The engine: what trains planned runs, for `compare` and `improve`.

- `planned_run`: `PlannedRun` (one cell x seed, its configuration
  resolved and validated before anything trains) and `RunOutcome`;
- `local_pool`: `LocalPool`, long-lived worker processes on this machine
  (`run_worker` is their body), on a GPU host pinned to its GPUs by
  `gpu_slots.GpuSlots`;
- `ray_engine`: `RayExecutor`, one Ray Tune trial per planned run;
- `study_progress`: `StudyProgress`, a line per finished run and the
  time left.

An executor is anything with `run(planned_runs, on_outcome, stage)`
returning `RunOutcome`s; both write the same run directories.
"""
