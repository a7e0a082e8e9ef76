"""Loss-adaptive learning rates: rates and updates set from each batch's
loss inside the compiled train step.

- `loss_probe.LossProbe` carries the batch's loss (and G, from
  `gamma_sources`) into the optimizer as the gradient of a probe variable;
- `loss_adaptive_optimizer.LossAdaptiveOptimizer` takes it out and lets a
  rate rule set the step's rate: `rate_rule.RateRule` (mode none),
  `sd.SD`, `sd.SD2`, `polyak.Polyak`, listed in `registry.RATE_RULES`;
- `momo.Momo` and `momo.MomoAdam` are optimizers whose update reads the
  loss (`loss_reading_optimizer.LossReadingOptimizer`).

`kerastune_lab.callbacks.LossAdaptiveLR` puts it all in place for
`model.fit`. This package module imports no Keras (configuration checks
read `registry`); import the classes from their modules.
"""
