"""The masked-LM task of seed 002: BERT on a text corpus."""

import keras

from kerastune_lab.callbacks.semantic_gamma import build_semantic_gamma
from kerastune_lab.data.masked_lm_data import load_masked_lm_data
from kerastune_lab.models.bert_masked_lm import (
    build_bert_masked_lm,
    training_view,
)
from kerastune_lab.training.prepared_task import PreparedTask


def prepare_masked_lm(config):
    train = config.train
    params = config.model.params
    data = load_masked_lm_data(config.data, params, train.batch_size,
                               train.seed)
    masked_lm = build_bert_masked_lm(
        vocabulary_size=data.vocabulary_size,
        size=params["size"],
        preset=params["preset"],
        max_sequence_length=max(params["max_sequence_length"],
                                config.data.chunk_size),
        dropout=params["dropout"],
    )
    model = training_view(masked_lm)
    gamma_source = None
    if config.lr_adapt.source == "semantic":
        use_encoder = config.lr_adapt.semantic_model == "encoder" or (
            config.lr_adapt.semantic_model == "auto" and params["preset"])
        embeddings = keras.ops.convert_to_numpy(
            masked_lm.backbone.token_embedding.embeddings
        ) if use_encoder else None
        gamma_source = build_semantic_gamma(
            data.tokenizer.get_vocabulary(), embeddings)
    return PreparedTask(
        model=model,
        fit_data={"x": data.train, "validation_data": data.val,
                  "shuffle": False},
        test_data={"x": data.test},
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[],
        weighted_metrics=["sparse_categorical_accuracy"],
        steps_per_epoch=len(data.train),
        data_summary=data.summary(),
        no_skill_eval_loss=data.no_skill_eval_loss(),
        perplexity=True,
        gamma_source=gamma_source,
        export_model=masked_lm,
    )
