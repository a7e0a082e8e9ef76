"""`[model] name = "bert_mlm"`: the SD study's BERT masked LM (keras-hub)."""

import dataclasses

from kerastune_lab.errors import ConfigError
from kerastune_lab.families.model_family import DataKind, Knob, ModelFamily
from kerastune_lab.fields import option
from kerastune_lab.models.bert_masked_lm import BERT_SIZES


def _check_text_files(data):
    from kerastune_lab.data.text_corpus import load_text_files

    load_text_files(data.path)


CORPUS_DATA = (
    DataKind("pydoc", "embedded corpus: Python's help topics"),
    DataKind(
        "text",
        "a .txt file or a folder of them",
        "corpus/",
        check=_check_text_files,
    ),
)


@dataclasses.dataclass
class BertMLMParams:
    """A BERT masked LM (keras-hub), from scratch or from a preset: the
    SD study's model."""

    size: str = option(
        "tiny",
        choices=tuple(BERT_SIZES),
        doc="architecture when training from scratch",
    )
    preset: str = option(
        "",
        doc="keras-hub preset name, or a local keras-hub preset or "
        "Hugging Face BERT directory; '' trains from scratch",
    )
    vocabulary_size: int = option(
        8000,
        minimum=100,
        doc="WordPiece vocabulary computed from the "
        "corpus when there is no preset",
    )
    max_sequence_length: int = option(
        512,
        minimum=8,
        doc="position embeddings (at least data.chunk_size is used)",
    )
    dropout: float = option(
        0.1, minimum=0.0, maximum=0.9, doc="dropout inside the encoder"
    )


def check(config):
    adapt = config.lr_adapt
    if (
        adapt.source == "semantic"
        and adapt.semantic_model == "encoder"
        and not config.model.params.preset
    ):
        raise ConfigError(
            "lr_adapt.semantic_model = 'encoder' needs a pretrained "
            "model.preset; a model trained from scratch has no meaningful "
            "token embeddings (use 'minilm')."
        )


def prepare(config):
    """BERT on a text corpus: chunks, 80/10/10 masks, the context-free
    and unigram baselines, and (with source = "semantic") the
    semantic-differential G."""
    import keras

    from kerastune_lab.data.masked_lm_data import load_masked_lm_data
    from kerastune_lab.families.prepared_task import PreparedTask
    from kerastune_lab.models.bert_masked_lm import (
        build_bert_masked_lm,
        training_view,
    )
    from kerastune_lab.run_directory import RunDirectory

    train = config.train
    params = config.model.params
    data = load_masked_lm_data(
        config.data, params, train.batch_size, train.seed
    )
    masked_lm = build_bert_masked_lm(
        vocabulary_size=data.vocabulary_size,
        size=params.size,
        preset=params.preset,
        max_sequence_length=max(
            params.max_sequence_length, config.data.chunk_size
        ),
        dropout=params.dropout,
    )
    return PreparedTask(
        model=training_view(masked_lm),
        fit_data={
            "x": data.train,
            "validation_data": data.val,
            "shuffle": False,
        },
        test_data={"x": data.test},
        # Per real masked slot: the default reduction would also count the
        # empty slots of short rows in the divisor.
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
        metrics=[],
        weighted_metrics=["sparse_categorical_accuracy"],
        steps_per_epoch=len(data.train),
        data_summary=data.summary(),
        no_skill_eval_loss=data.no_skill_eval_loss(),
        baselines={"unigram_eval_loss": data.unigram_eval_loss()},
        perplexity=True,
        gamma_source=_gamma_source(config, masked_lm, data.tokenizer),
        export_model=masked_lm,
        export_files={RunDirectory.TOKENIZER: data.tokenizer.save},
    )


def _gamma_source(config, masked_lm, tokenizer):
    """The semantic-differential G with source = "semantic" (None
    otherwise): from the pretrained encoder's own token embeddings where
    asked (or "auto" with a preset), else from all-MiniLM-L6-v2."""
    if config.lr_adapt.source != "semantic":
        return None
    import keras

    from kerastune_lab.lr_adapt.semantic_gamma import build_semantic_gamma

    semantic_model = config.lr_adapt.semantic_model
    use_encoder = semantic_model == "encoder" or (
        semantic_model == "auto" and config.model.params.preset
    )
    embeddings = (
        keras.ops.convert_to_numpy(
            masked_lm.backbone.token_embedding.embeddings
        )
        if use_encoder
        else None
    )
    return build_semantic_gamma(tokenizer.get_vocabulary(), embeddings)


SIZES = tuple(BERT_SIZES)


def _size(step):
    def next_size(size):
        i = SIZES.index(size) + step
        return SIZES[i] if 0 <= i < len(SIZES) else None

    return next_size


KNOBS = (
    Knob(
        "model.dropout",
        "regularisation",
        lambda r: round(min(0.9, r + 0.1), 2) if r < 0.9 else None,
        lambda r: round(max(0.0, r - 0.05), 2) if r > 0 else None,
        "dropout (regularisation)",
    ),
    Knob(
        "train.weight_decay",
        "regularisation",
        lambda w: w * 5 if w else 0.01,
        lambda w: w / 5 if w else None,
        "decoupled weight decay (regularisation)",
    ),
    # A preset fixes the architecture: size applies from scratch only.
    Knob(
        "model.size",
        "capacity",
        _size(1),
        _size(-1),
        "model size (capacity)",
        applies=lambda config: not config["model"]["preset"],
    ),
)

FAMILY = ModelFamily(
    name="bert_mlm",
    knobs=KNOBS,
    params=BertMLMParams,
    data_kinds=CORPUS_DATA,
    prepare=prepare,
    check=check,
    semantic_gamma=True,
    # The original SD study's Hugging Face AdamW set-up (SDTrainer).
    train_defaults={
        "optimizer": "adamw",
        "learning_rate": 2e-5,
        "epsilon": 1e-8,
        "weight_decay": 0.01,
        "clipnorm": 1.0,
        "batch_size": 64,
        "early_stopping": False,
    },
)
