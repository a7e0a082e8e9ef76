"""`kerastune-lab compare`: a study of a [grid] over seeds.

- `run_comparison`: `Study` (the cells x seeds, planned once, and the
  comparison directory) and `run_study` (trains them with an engine
  executor, then the matched-rate controls as a second stage);
- `study_controls`: the cells [controls] adds (schedule-free, and the
  matched-rate controls planned from the first stage's runs);
- `collect`: the finished runs of a plan as {cell: {seed: run}};
- `aggregate`: summary.csv, comparisons.csv, the plots and the report;
- `study_estimate`: `compare --dry-run`'s plan and time estimate;
- `load_study`: a comparison's runs as a DataFrame.

The statistics (`kerastune_lab.statistics`), the report and its plots
(`kerastune_lab.reports`) and the engine (`kerastune_lab.engine`) live in
their own packages.
"""
