"""`kerastune-lab improve`: rounds of diagnose -> try the advised changes
over seeds -> adopt the best real one, then a confirmation on fresh seeds
(`run_improvement`).

- `candidate_changes`: a round's candidates from the diagnosis's advice;
- `round_run`, `objective`: what a round reads of a finished run, and the
  validation figure it decides on;
- `round_decision`, `improvement_round`: the one-sided paired tests under
  Holm and the adopted change; `confirmation`: the fresh seeds' test,
  `confirmation_looks`: the alpha each look at it is tested at;
- `write_improvement`: the improve directory's files (its report and
  plots are `kerastune_lab.reports`').

Runs train on the engine (`kerastune_lab.engine`); the tests are
`kerastune_lab.statistics`'.
"""
