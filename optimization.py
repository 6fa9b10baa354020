# coding=utf-8
"""Training op for pretraining and fine-tuning: LAMB or AdamW, warmup, decay, clipping.

`create_optimizer` builds the learning-rate schedule (linear warmup, then polynomial
decay to zero at `num_train_steps`), averages gradients across replicas (TPU cores or
`tf.distribute` devices) *before* clipping them to global norm 1.0, so that every
device count clips the same global gradient, and applies them with LAMB or AdamW.

Fixes against the originals: before `start_warmup_step` the learning rate is 0 (the
originals computed a negative warmup rate there, i.e. gradient *ascent*); gradients
are clipped after cross-replica averaging rather than per replica.
"""

import tensorflow.compat.v1 as tf

import lamb_optimizer

OPTIMIZERS = ("lamb", "adamw")
CLIP_NORM = 1.0


class AdamWeightDecayOptimizer(lamb_optimizer.LAMBOptimizer):
  """AdamW as in BERT/ALBERT: LAMB's update without the layer-wise trust ratio."""

  def __init__(self, learning_rate, name="AdamWeightDecayOptimizer", **kwargs):
    super(AdamWeightDecayOptimizer, self).__init__(
        learning_rate, name=name, **kwargs)

  def _adapts_layer(self, var_name):
    return False


def learning_rate_schedule(global_step, init_lr, num_train_steps,
                           num_warmup_steps, poly_power=1.0,
                           start_warmup_step=0):
  """Learning rate at `global_step` (a scalar integer Tensor).

  Polynomial decay from `init_lr` to 0 at `num_train_steps`; during the
  `num_warmup_steps` steps that follow `start_warmup_step` the rate instead grows
  linearly from 0. Before `start_warmup_step` the rate is 0.
  """
  step = tf.cast(global_step, tf.float32)
  decayed_lr = tf.train.polynomial_decay(
      tf.constant(init_lr, tf.float32),
      global_step,
      num_train_steps,
      end_learning_rate=0.0,
      power=poly_power,
      cycle=False)
  if not num_warmup_steps:
    return decayed_lr
  # Clamped at 0: the original formula went negative before start_warmup_step.
  steps_into_warmup = tf.maximum(step - float(start_warmup_step), 0.0)
  warmup_lr = init_lr * steps_into_warmup / float(num_warmup_steps)
  in_warmup = steps_into_warmup < float(num_warmup_steps)
  return tf.where(in_warmup, warmup_lr, decayed_lr)


def make_optimizer(name, learning_rate, use_fused_kernel=False):
  """The LAMB or AdamW optimizer with the published hyper-parameters."""
  if name == "lamb":
    return lamb_optimizer.LAMBOptimizer(learning_rate,
                                        use_fused_kernel=use_fused_kernel)
  if name == "adamw":
    return AdamWeightDecayOptimizer(learning_rate,
                                    use_fused_kernel=use_fused_kernel)
  raise ValueError("optimizer must be one of %s, got %r" % (OPTIMIZERS, name))


def create_optimizer(loss, init_lr, num_train_steps, num_warmup_steps, use_tpu,
                     optimizer="lamb", poly_power=1.0, start_warmup_step=0,
                     use_amp=False, use_fused_kernels=False):
  """Creates the training op for `loss`.

  Args:
    loss: scalar loss of this replica (a mean over its examples).
    init_lr: peak learning rate.
    num_train_steps: step at which the rate has decayed to 0.
    num_warmup_steps: length of the linear warmup.
    use_tpu: whether the graph runs replicated on TPU cores.
    optimizer: "lamb" or "adamw".
    poly_power: power of the polynomial decay.
    start_warmup_step: step at which warmup starts (rate is 0 before it).
    use_amp: wrap the optimizer for GPU mixed precision with dynamic loss scaling
      (`tf.compat.v1.mixed_precision.enable_mixed_precision_graph_rewrite`).
    use_fused_kernels: update the variables with fused_ops' CPU kernel (for
      training on the CPU; see lamb_optimizer.LAMBOptimizer).

  Returns:
    (train_op, learning_rate): the op that applies one step and increments the
    global step, and the learning-rate tensor (for summaries).
  """
  global_step = tf.train.get_or_create_global_step()
  learning_rate = learning_rate_schedule(global_step, init_lr, num_train_steps,
                                         num_warmup_steps, poly_power,
                                         start_warmup_step)
  opt = make_optimizer(optimizer, learning_rate, use_fused_kernels)
  if use_amp:
    opt = tf.mixed_precision.enable_mixed_precision_graph_rewrite(
        opt, loss_scale="dynamic")

  tvars = tf.trainable_variables()
  if use_amp:
    # The loss-scale wrapper scales the loss before differentiating and unscales
    # the gradients; it also scales by 1/num_replicas under a strategy.
    grads = [g for g, _ in opt.compute_gradients(loss, tvars)]
    grads = _sum_across_replicas(grads, use_tpu)
  else:
    grads = _mean_across_replicas(tf.gradients(loss, tvars), use_tpu)
  grads, _ = tf.clip_by_global_norm(grads, clip_norm=CLIP_NORM)
  grads = _prepare_for_strategy_sum(grads)
  train_op = opt.apply_gradients(zip(grads, tvars), global_step=global_step)
  return train_op, learning_rate


def _num_tpu_shards():
  # pylint: disable=g-import-not-at-top
  from tensorflow.python.tpu import tpu_function
  return tpu_function.get_tpu_context().number_of_shards or 1


def _strategy_replicas():
  """Replica count of the enclosing tf.distribute strategy (1 without one)."""
  if not tf.distribute.has_strategy():
    return 1
  return tf.distribute.get_strategy().num_replicas_in_sync


def _dense(grads):
  return [None if g is None else tf.convert_to_tensor(g) for g in grads]


def _all_reduce(grads, use_tpu, reduce_op):
  """Reduces per-replica gradients so every replica holds the same global value."""
  if use_tpu and _num_tpu_shards() > 1:
    scale = (1.0 / _num_tpu_shards()) if reduce_op == "mean" else 1.0
    return [None if g is None else tf.tpu.cross_replica_sum(g) * scale
            for g in _dense(grads)]
  if _strategy_replicas() > 1:
    context = tf.distribute.get_replica_context()
    op = (tf.distribute.ReduceOp.MEAN if reduce_op == "mean"
          else tf.distribute.ReduceOp.SUM)
    present = [g for g in _dense(grads) if g is not None]
    reduced = iter(context.all_reduce(op, present))
    return [None if g is None else next(reduced) for g in grads]
  return grads


def _mean_across_replicas(grads, use_tpu):
  return _all_reduce(grads, use_tpu, "mean")


def _sum_across_replicas(grads, use_tpu):
  return _all_reduce(grads, use_tpu, "sum")


def _prepare_for_strategy_sum(grads):
  """Undoes the SUM that a strategy's `apply_gradients` performs.

  The gradients are already the same global average on every replica; the v1
  optimizer's `merge_call` sums them across replicas again, so divide first.
  """
  replicas = _strategy_replicas()
  if replicas == 1:
    return grads
  return [None if g is None else g / float(replicas) for g in grads]
