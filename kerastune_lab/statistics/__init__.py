"""The statistics of a study: which differences between cells are real.

- `contrast_tests`: the paired tests of one contrast (paired t, exact
  signed-rank with Hodges-Lehmann, TOST, detectable differences);
- `paired_tests`: a study's comparisons (primary under Holm,
  exploratory estimated) and comparisons.csv;
- `power_plan`: what the primary family can detect;
- `failures`: the failure rule, the worst value, the rate's interval;
- `write_summary`: summary.csv, per cell the mean and interval of every
  figure (`mean_ci`) and the verdicts counted;
- `mean_factor`: the rate-weighted mean SD factor of a run.

Pure functions of the runs' figures: nothing here trains or plots.
"""
