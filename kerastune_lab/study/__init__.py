"""What a study means, below the configuration that checks it.

- `grid`: `Cell` (one combination of levels), `expand_grid`,
  `seed_values`;
- `study_levels`: the axes [controls] adds levels to (`SCHEDULE_AXIS`,
  `MODE_AXIS`), the control levels (`SCHEDULE_FREE`, `matched_level`)
  and every axis's levels (`study_levels`, `study_axes`);
- `parse_contrast`: an `[analysis] primary` contrast;
- `controls_config`, `analysis_config`: the [controls] and [analysis]
  sections (`ControlsConfig`, `AnalysisConfig`) and their checks.

Imports no Keras; `kerastune_lab.config` builds these sections, the
statistics, reports and `compare` read them.
"""
