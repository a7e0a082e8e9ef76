"""Reading one run's curves: the diagnosis and what it reads.

- `diagnose_history`: the verdict, its reasons and advice, from the rules
  of `diagnosis_rules` (checked in order on `diagnosis_curves.Curves`)
  and the advice of `diagnosis_advice` (a family's `knob.Knob`s passed
  in); `diagnosis` holds the vocabulary (`VERDICTS`, `DIVERGED`,
  `Diagnosis`, `set_text`);
- `run_files`: what the diagnosis reads from a run directory;
- `plot_curves`: a run's curves.png; `learning_rate_range`: lr-find's
  range test; `run_listing`: the lines of `kerastune-lab runs`.
"""
