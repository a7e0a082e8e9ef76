"""Reports and plots: what `compare`, `improve` and `report` write for a
reader.

- `write_report`: a study's report.md and report.html, led by
  `report_answer` (the question and what the runs say), with
  `report_protocol` (the protocol, fixed before the results);
- `study_plots`: the registry of a study's plots (`STUDY_PLOTS`: file,
  caption, how to draw, when it applies), drawn by `plot_strip`,
  `plot_rate_loss` and `plot_comparison`;
- `improvement_report` and `plot_round`: an improve directory's
  report.md and its round plots; `confirmation_words`: its
  confirmation's headline and summary;
- `run_report`: `kerastune-lab report` for runs side by side;
- `html_page`: Markdown to a self-contained HTML page (images inlined).

The numbers come from `kerastune_lab.statistics`; nothing here trains.
"""
