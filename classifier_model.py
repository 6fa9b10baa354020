# coding=utf-8
"""The ALBERT sequence classifier: graph, Estimator model_fn and metrics.

Shared by run_classifier.py (training, eval, predict), export.py (SavedModel)
and similarity.py (the low-latency predictor), so the classifier graph exists
once. The head is BERT's: dropout on the pooled output, then top-level
variables `output_weights [num_labels, H]` and `output_bias [num_labels]`, the
names albert_zh's fine-tuned checkpoints carry.

The encoder and the model_fn around the head are finetune_model's, shared with
every fine-tuning script.
"""

import tensorflow.compat.v1 as tf

import finetune_model

# BERT's classifier dropout on the pooled output (training only).
CLASSIFIER_DROPOUT = 0.1


def classify(pooled_output, labels, num_labels, is_training, albert_config):
  """BERT's classifier head on the pooled output [B, H].

  Returns:
    (loss, per_example_loss, logits, probabilities); loss is the mean over the
    batch; loss and per_example_loss are None when `labels` is None.
  """
  if is_training:
    pooled_output = tf.nn.dropout(pooled_output, rate=CLASSIFIER_DROPOUT)
  logits = finetune_model.dense_logits(pooled_output, num_labels, albert_config,
                                       "output_weights", "output_bias")
  with tf.variable_scope("loss"):
    probabilities = tf.nn.softmax(logits, axis=-1, name="probabilities")
    if labels is None:
      return None, None, logits, probabilities
    per_example_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=logits)
    loss = tf.reduce_mean(per_example_loss)
  return loss, per_example_loss, logits, probabilities


def create_model(albert_config, is_training, input_ids, input_mask, segment_ids,
                 labels, num_labels, use_one_hot_embeddings=False,
                 hub_module_handle=None, use_fused_kernels=False):
  """Builds encoder and classifier; returns classify()'s tuple."""
  encoded = finetune_model.encode(
      albert_config, is_training, input_ids, input_mask, segment_ids,
      use_one_hot_embeddings, hub_module_handle, use_fused_kernels)
  return classify(encoded.pooled_output, labels, num_labels, is_training,
                  albert_config)


def metric_fn(num_labels):
  """Returns a TPUEstimator metric_fn: accuracy, loss, and P/R/F1 if binary.

  Padding examples (is_real_example = 0) get weight 0.
  """

  def compute(per_example_loss, label_ids, logits, is_real_example):
    predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
    weights = tf.cast(is_real_example, tf.float32)
    metrics = {
        "eval_accuracy": tf.metrics.accuracy(label_ids, predictions,
                                             weights=weights),
        "eval_loss": tf.metrics.mean(per_example_loss, weights=weights),
    }
    if num_labels == 2:
      precision = tf.metrics.precision(label_ids, predictions, weights=weights)
      recall = tf.metrics.recall(label_ids, predictions, weights=weights)
      p, r = precision[0], recall[0]
      f1 = tf.where(p + r > 0, 2.0 * p * r / tf.maximum(p + r, 1e-12), 0.0)
      metrics.update(eval_precision=precision, eval_recall=recall,
                     eval_f1=(f1, tf.group(precision[1], recall[1])))
    return metrics

  return compute


def head_fn_builder(albert_config, num_labels):
  """The classification head for finetune_model.model_fn_builder."""

  def head(features, is_training, encoder):
    encoded = encoder(features["input_ids"], features["input_mask"],
                      features["segment_ids"])
    label_ids = features["label_ids"]
    loss, per_example_loss, logits, probabilities = classify(
        encoded.pooled_output, label_ids, num_labels, is_training,
        albert_config)
    return finetune_model.HeadOutputs(
        loss=loss, predictions={"probabilities": probabilities},
        eval_metrics=(metric_fn(num_labels), dict(
            per_example_loss=per_example_loss, label_ids=label_ids,
            logits=logits, is_real_example=features["is_real_example"])))

  return head


def model_fn_builder(albert_config, num_labels, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu,
                     optimizer="adamw", hub_module_handle=None, use_amp=False,
                     use_fused_kernels=False):
  """The classifier's TPUEstimator model_fn (see finetune_model)."""
  return finetune_model.model_fn_builder(
      head_fn_builder(albert_config, num_labels), albert_config,
      init_checkpoint, learning_rate, num_train_steps, num_warmup_steps,
      use_tpu=use_tpu, optimizer=optimizer,
      hub_module_handle=hub_module_handle, use_amp=use_amp,
      use_fused_kernels=use_fused_kernels)
