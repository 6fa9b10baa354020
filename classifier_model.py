# coding=utf-8
"""The ALBERT sequence classifier: graph, Estimator model_fn and metrics.

Shared by run_classifier.py (training, eval, predict), export.py (SavedModel)
and similarity.py (the low-latency predictor), so the classifier graph exists
once. The head is BERT's: dropout on the pooled output, then top-level
variables `output_weights [num_labels, H]` and `output_bias [num_labels]`, the
names albert_zh's fine-tuned checkpoints carry. Regression tasks (GLUE's
STS-B) use the same layout with one output unit and squared error.

The encoder and the model_fn around the head are finetune_model's, shared with
every fine-tuning script.
"""

import numpy as np
import tensorflow.compat.v1 as tf

import finetune_model

# BERT's classifier dropout on the pooled output (training only).
CLASSIFIER_DROPOUT = 0.1


def label_prior_bias(label_counts, label_list):
  """The log label prior of the training data: output_bias's initial value.

  With a zero bias every declared label starts equally likely. Labels that
  never occur in the training data (a task declaring TNEWS's 15 labels but
  training on two of them) then dominate the first gradients: with Adam their
  rows of output_weights all move, at full speed, against the mean pooled
  output, and the pooled output is pushed along the same direction for every
  input until its tanh saturates -- the classifier collapses to the majority
  class (measured: |tanh| 0.998, spread across inputs 3e-6; collapse_test.py).
  Starting at the prior, absent labels have probability ~1/N and their push
  is negligible, and the head does not spend its first steps learning the
  class balance.

  Args:
    label_counts: {label: number of training examples}.
    label_list: the declared labels, in output order.
  Returns:
    float32 numpy array [len(label_list)]: log((count + 1) / (N + K)), add-one
    smoothed so that an absent label gets a finite, low bias.
  """
  counts = np.array([label_counts.get(label, 0) for label in label_list],
                    np.float64)
  prior = (counts + 1.0) / (counts.sum() + len(label_list))
  return np.log(prior).astype(np.float32)


def classify(pooled_output, labels, num_labels, is_training, albert_config,
             initial_bias=None):
  """BERT's classifier head on the pooled output [B, H].

  initial_bias: output_bias's initial value [num_labels] (label_prior_bias);
    zeros when None. A checkpoint that has output_bias overrides it.

  Returns:
    (loss, per_example_loss, logits, probabilities); loss is the mean over the
    batch; loss and per_example_loss are None when `labels` is None.
  """
  if is_training:
    pooled_output = tf.nn.dropout(pooled_output, rate=CLASSIFIER_DROPOUT)
  bias_initializer = None
  if initial_bias is not None:
    bias_initializer = tf.constant_initializer(np.asarray(initial_bias))
  logits = finetune_model.dense_logits(pooled_output, num_labels, albert_config,
                                       "output_weights", "output_bias",
                                       bias_initializer)
  with tf.variable_scope("loss"):
    probabilities = tf.nn.softmax(logits, axis=-1, name="probabilities")
    if labels is None:
      return None, None, logits, probabilities
    per_example_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=logits)
    loss = tf.reduce_mean(per_example_loss)
  return loss, per_example_loss, logits, probabilities


def regress(pooled_output, labels, is_training, albert_config):
  """The regression head (STS-B): one output unit, mean squared error.

  The variables keep the classifier's names (output_weights [1, H],
  output_bias [1]), as google-research/albert's STS-B head does.

  Returns:
    (loss, per_example_loss, predictions [B]); the losses are None when
    `labels` is None.
  """
  if is_training:
    pooled_output = tf.nn.dropout(pooled_output, rate=CLASSIFIER_DROPOUT)
  logits = finetune_model.dense_logits(pooled_output, 1, albert_config,
                                       "output_weights", "output_bias")
  with tf.variable_scope("loss"):
    predictions = tf.squeeze(logits, [-1], name="predictions")
    if labels is None:
      return None, None, predictions
    per_example_loss = tf.square(predictions - tf.cast(labels, tf.float32))
    loss = tf.reduce_mean(per_example_loss)
  return loss, per_example_loss, predictions


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


def regression_metric_fn(per_example_loss, is_real_example):
  """TPUEstimator metric_fn of the regression head: the mean squared error as
  eval_loss (correlations need every prediction; run_classifier computes them
  from the predictions with classifier_metrics)."""
  weights = tf.cast(is_real_example, tf.float32)
  return {"eval_loss": tf.metrics.mean(per_example_loss, weights=weights)}


def head_fn_builder(albert_config, num_labels, is_regression=False,
                    initial_bias=None):
  """The classification (or, with is_regression, the one-unit regression)
  head for finetune_model.model_fn_builder.

  initial_bias: the classifier's initial output_bias (label_prior_bias of the
  training labels); zeros when None.

  Predictions carry the batch's label_ids too, so that metrics over a whole
  split (Matthews, F1, Pearson, Spearman) can be computed from one prediction
  pass over dev.
  """

  def head(features, is_training, encoder):
    encoded = encoder(features["input_ids"], features["input_mask"],
                      features["segment_ids"])
    label_ids = features["label_ids"]
    if is_regression:
      loss, per_example_loss, scores = regress(
          encoded.pooled_output, label_ids, is_training, albert_config)
      return finetune_model.HeadOutputs(
          loss=loss, predictions={"predictions": scores,
                                  "label_ids": label_ids},
          eval_metrics=(regression_metric_fn, dict(
              per_example_loss=per_example_loss,
              is_real_example=features["is_real_example"])))
    loss, per_example_loss, logits, probabilities = classify(
        encoded.pooled_output, label_ids, num_labels, is_training,
        albert_config, initial_bias)
    return finetune_model.HeadOutputs(
        loss=loss, predictions={"probabilities": probabilities,
                                "label_ids": label_ids},
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
