"""What a task hands to the generic training loop."""

import dataclasses


@dataclasses.dataclass
class PreparedTask:
    """A built model, its data, and how to compile and score it.

    Attributes:
        model: The uncompiled `keras.Model`.
        fit_data: Keyword arguments of `model.fit` for the data
            (x, y, validation_data, and batch_size for arrays).
        test_data: Keyword arguments of `model.evaluate` for the test split.
        loss: The compiled loss.
        metrics, weighted_metrics: Compiled metrics.
        steps_per_epoch: Optimizer steps in one epoch.
        data_summary: Sizes of the splits, for config.json.
        reference: Extra figures for metrics.json (e.g. the majority-class
            accuracy that a classifier must beat).
        no_skill_eval_loss: The validation loss of the best predictor that
            uses no context (`data.no_skill_loss`): the class prior, or for
            a masked LM the posterior of the token shown at each slot.
        baselines: Other reference losses for config.json, by name (e.g.
            the masked LM's `unigram_eval_loss`).
        perplexity: Report exp(loss) as perplexity.
        gamma_source: A G source object for LossAdaptiveLR (None: the
            registered source named in [lr_adapt] source).
        export_model: The model written to model.keras when it is not
            `model` itself (a model class that shares `model`'s layers).
        export_files: Files written beside model.keras, by name (the
            `RunDirectory` constant): `{name: save}`, where `save(path)`
            writes the file, e.g. the text vectorizer that turns text into
            the model's inputs.
        fine_tune: For a two-phase run (train.head_epochs): makes the
            layers of the second phase trainable (the model is recompiled
            afterwards).
    """

    model: object
    fit_data: dict
    test_data: dict
    loss: object
    metrics: list
    weighted_metrics: list
    steps_per_epoch: int
    data_summary: dict
    reference: dict = dataclasses.field(default_factory=dict)
    no_skill_eval_loss: float = float("nan")
    baselines: dict = dataclasses.field(default_factory=dict)
    perplexity: bool = False
    gamma_source: object = None
    export_model: object = None
    export_files: dict = dataclasses.field(default_factory=dict)
    fine_tune: object = None
