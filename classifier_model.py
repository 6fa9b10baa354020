# coding=utf-8
"""The ALBERT sequence classifier: graph, Estimator model_fn and metrics.

Shared by run_classifier.py (training, eval, predict), export.py (SavedModel)
and similarity.py (the low-latency predictor), so the classifier graph exists
once. The head is BERT's: dropout on the pooled output, then top-level
variables `output_weights [num_labels, H]` and `output_bias [num_labels]`, the
names albert_zh's fine-tuned checkpoints carry.

The encoder is either modeling.AlbertModel (variables under `bert/`) or a TF-Hub
module in TF1 Hub format (`hub_module_handle`, e.g. one written by export.py),
whose `tokens` signature gives the pooled output.
"""

import tensorflow.compat.v1 as tf

import estimator_utils
import modeling
import optimization

# BERT's classifier dropout on the pooled output (training only).
CLASSIFIER_DROPOUT = 0.1


def encode(albert_config, is_training, input_ids, input_mask, segment_ids,
           use_one_hot_embeddings=False, hub_module_handle=None,
           use_fused_kernels=False):
  """Returns the pooled output [B, H] of the ALBERT encoder.

  use_fused_kernels: see modeling.AlbertModel (not for hub modules).
  """
  if hub_module_handle:
    # Imported here: tensorflow_hub is only needed for hub modules.
    import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
    tags = {"train"} if is_training else set()
    module = hub.Module(hub_module_handle, tags=tags, trainable=True)
    outputs = module(dict(input_ids=input_ids, input_mask=input_mask,
                          segment_ids=segment_ids),
                     signature="tokens", as_dict=True)
    return outputs["pooled_output"]
  model = modeling.AlbertModel(
      config=albert_config, is_training=is_training, input_ids=input_ids,
      input_mask=input_mask, token_type_ids=segment_ids,
      use_one_hot_embeddings=use_one_hot_embeddings,
      use_fused_kernels=use_fused_kernels)
  return model.get_pooled_output()


def create_model(albert_config, is_training, input_ids, input_mask, segment_ids,
                 labels, num_labels, use_one_hot_embeddings=False,
                 hub_module_handle=None, use_fused_kernels=False):
  """Builds the classifier.

  Returns:
    (loss, per_example_loss, logits, probabilities); loss is the mean over the
    batch; per_example_loss is None when `labels` is None (serving graphs).
  """
  pooled_output = encode(albert_config, is_training, input_ids, input_mask,
                         segment_ids, use_one_hot_embeddings, hub_module_handle,
                         use_fused_kernels)
  hidden_size = pooled_output.shape[-1]
  initializer_range = (albert_config.initializer_range if albert_config
                       else 0.02)
  output_weights = tf.get_variable(
      "output_weights", [num_labels, hidden_size],
      initializer=modeling.create_initializer(initializer_range))
  output_bias = tf.get_variable("output_bias", [num_labels],
                                initializer=tf.zeros_initializer())
  with tf.variable_scope("loss"):
    if is_training:
      pooled_output = tf.nn.dropout(pooled_output, rate=CLASSIFIER_DROPOUT)
    logits = tf.nn.bias_add(
        tf.matmul(pooled_output, output_weights, transpose_b=True), output_bias)
    probabilities = tf.nn.softmax(logits, axis=-1, name="probabilities")
    if labels is None:
      return None, None, logits, probabilities
    per_example_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=logits)
    loss = tf.reduce_mean(per_example_loss)
  return loss, per_example_loss, logits, probabilities


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


def model_fn_builder(albert_config, num_labels, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu,
                     use_one_hot_embeddings=False, optimizer="adamw",
                     hub_module_handle=None, use_amp=False,
                     use_fused_kernels=False):
  """Returns a TPUEstimator model_fn for training, eval and prediction.

  use_fused_kernels: fused_ops' CPU kernels (see modeling.AlbertModel);
  run_classifier sets it when no TPU or GPU is used.
  """

  def model_fn(features, labels, mode, params):  # pylint: disable=unused-argument
    input_ids = features["input_ids"]
    input_mask = features["input_mask"]
    segment_ids = features["segment_ids"]
    label_ids = features["label_ids"]
    is_real_example = features["is_real_example"]
    is_training = mode == tf.estimator.ModeKeys.TRAIN

    loss, per_example_loss, logits, probabilities = create_model(
        albert_config, is_training, input_ids, input_mask, segment_ids,
        label_ids, num_labels, use_one_hot_embeddings, hub_module_handle,
        use_fused_kernels)
    scaffold_fn = estimator_utils.init_from_checkpoint(init_checkpoint,
                                                       use_tpu)

    if mode == tf.estimator.ModeKeys.TRAIN:
      with tf.control_dependencies([estimator_utils.finite_loss_guard(loss)]):
        train_op, _ = optimization.create_optimizer(
            loss, learning_rate, num_train_steps, num_warmup_steps, use_tpu,
            optimizer=optimizer, use_amp=use_amp,
            use_fused_kernels=use_fused_kernels)
      return tf.estimator.tpu.TPUEstimatorSpec(
          mode=mode, loss=estimator_utils.reported_loss(loss),
          train_op=train_op, scaffold_fn=scaffold_fn)
    if mode == tf.estimator.ModeKeys.EVAL:
      return tf.estimator.tpu.TPUEstimatorSpec(
          mode=mode, loss=loss, scaffold_fn=scaffold_fn,
          eval_metrics=(metric_fn(num_labels), [
              per_example_loss, label_ids, logits, is_real_example]))
    return tf.estimator.tpu.TPUEstimatorSpec(
        mode=mode, scaffold_fn=scaffold_fn,
        predictions={"probabilities": probabilities,
                     "is_real_example": is_real_example,
                     "example_index": features["example_index"]})

  return model_fn
