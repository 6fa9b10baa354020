# coding=utf-8
"""The task-agnostic half of every fine-tuning graph: encoder and model_fn.

A task script supplies only its *head*: a function that reads the batch's
features, calls the encoder once, and returns the loss, the predictions and
the eval metrics (`HeadOutputs`). `model_fn_builder` wraps any head into a
TPUEstimator model_fn with checkpoint initialisation, the finite-loss guard
and the optimizer (the train branch shared with run_pretraining through
estimator_utils).

The encoder is modeling.AlbertModel (variables under `bert/`, loadable from
either released layout or run_pretraining's checkpoints) or a TF-Hub module in
TF1 Hub format (e.g. one written by export.py), whose `tokens` signature gives
the same two outputs.
"""

import collections
import dataclasses
from typing import Callable, Optional

import tensorflow.compat.v1 as tf

import estimator_utils
import modeling

EncoderOutputs = collections.namedtuple("EncoderOutputs",
                                        ["pooled_output", "sequence_output"])


@dataclasses.dataclass
class HeadOutputs:
  """What a task head returns.

  loss: scalar mean loss over the batch; None when the batch has no labels
    (serving graphs).
  predictions: tensors with the batch on axis 0, returned by PREDICT.
  eval_metrics: (metric_fn, dict of tensors) as TPUEstimator takes it;
    metric_fn(**tensors) returns {name: (value, update_op)}.
  """
  loss: Optional[tf.Tensor] = None
  predictions: dict = dataclasses.field(default_factory=dict)
  eval_metrics: Optional[tuple] = None


def encode(albert_config, is_training, input_ids, input_mask, segment_ids,
           use_one_hot_embeddings=False, hub_module_handle=None,
           use_fused_kernels=False):
  """Returns EncoderOutputs(pooled [B, H], sequence [B, T, H]).

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
    return EncoderOutputs(outputs["pooled_output"], outputs["sequence_output"])
  model = modeling.AlbertModel(
      config=albert_config, is_training=is_training, input_ids=input_ids,
      input_mask=input_mask, token_type_ids=segment_ids,
      use_one_hot_embeddings=use_one_hot_embeddings,
      use_fused_kernels=use_fused_kernels)
  return EncoderOutputs(model.get_pooled_output(), model.get_sequence_output())


def encoder_fn(albert_config, is_training, use_one_hot_embeddings=False,
               hub_module_handle=None, use_fused_kernels=False):
  """encoder(input_ids, input_mask, segment_ids) -> EncoderOutputs, with the
  model settings bound (what a head receives)."""

  def encoder(input_ids, input_mask, segment_ids):
    return encode(albert_config, is_training, input_ids, input_mask,
                  segment_ids, use_one_hot_embeddings, hub_module_handle,
                  use_fused_kernels)

  return encoder


def initializer_range(albert_config):
  """The head initialiser's stddev (BERT's 0.02 when the encoder is a hub
  module without a config)."""
  return albert_config.initializer_range if albert_config else 0.02


def dense_logits(inputs, num_outputs, albert_config, weights_name,
                 bias_name, bias_initializer=None):
  """inputs [..., H] @ W^T + b with BERT's head variables W [num_outputs, H]
  and b [num_outputs] (the names released fine-tuned checkpoints carry).

  bias_initializer: b's initial value (default zeros), e.g. a classifier's
  log label prior (classifier_model.label_prior_bias).
  """
  hidden_size = inputs.shape[-1]
  weights = tf.get_variable(
      weights_name, [num_outputs, hidden_size],
      initializer=modeling.create_initializer(initializer_range(albert_config)))
  bias = tf.get_variable(bias_name, [num_outputs],
                         initializer=bias_initializer or tf.zeros_initializer())
  return tf.nn.bias_add(
      tf.tensordot(inputs, weights, axes=[[inputs.shape.ndims - 1], [1]]),
      bias)


def bookkeeping_predictions(features):
  """The predictions every head returns so outputs go back to input order."""
  return {"is_real_example": features["is_real_example"],
          "example_index": features["example_index"]}


HeadFn = Callable[[dict, bool, Callable], HeadOutputs]


def model_fn_builder(head_fn, albert_config, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu=False,
                     optimizer="adamw", hub_module_handle=None, use_amp=False,
                     use_fused_kernels=False):
  """Returns a TPUEstimator model_fn (train, eval, predict) around `head_fn`.

  Args:
    head_fn: head_fn(features, is_training, encoder) -> HeadOutputs.
    use_fused_kernels: fused_ops' CPU kernels (see modeling.AlbertModel); the
      scripts set it when no TPU or GPU is used.
  Other arguments as optimization.create_optimizer and encode take them.
  """

  def model_fn(features, labels, mode, params):  # pylint: disable=unused-argument
    is_training = mode == tf.estimator.ModeKeys.TRAIN
    encoder = encoder_fn(albert_config, is_training,
                         use_one_hot_embeddings=use_tpu,
                         hub_module_handle=hub_module_handle,
                         use_fused_kernels=use_fused_kernels)
    outputs = head_fn(features, is_training, encoder)
    scaffold_fn = estimator_utils.init_from_checkpoint(init_checkpoint,
                                                       use_tpu)
    if is_training:
      train_op, _ = estimator_utils.guarded_train_op(
          outputs.loss, init_lr=learning_rate, num_train_steps=num_train_steps,
          num_warmup_steps=num_warmup_steps, use_tpu=use_tpu,
          optimizer=optimizer, use_amp=use_amp,
          use_fused_kernels=use_fused_kernels)
      return estimator_utils.train_spec(outputs.loss, train_op, scaffold_fn)
    if mode == tf.estimator.ModeKeys.EVAL:
      return tf.estimator.tpu.TPUEstimatorSpec(
          mode=mode, loss=outputs.loss, scaffold_fn=scaffold_fn,
          eval_metrics=outputs.eval_metrics)
    predictions = dict(bookkeeping_predictions(features),
                       **outputs.predictions)
    return tf.estimator.tpu.TPUEstimatorSpec(
        mode=mode, scaffold_fn=scaffold_fn, predictions=predictions)

  return model_fn
