# coding=utf-8
"""LAMB: layer-wise adaptive moments for large-batch pretraining (You et al., 2019).

The update follows google-research/albert's LAMB exactly (no bias correction):

    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g^2
    u = m / (sqrt(v) + eps) + wd * w        (wd skipped for excluded variables)
    r = ||w|| / ||u||                       (1.0 if either norm is zero, or if the
                                             variable is excluded from adaptation)
    w = w - (r * lr) * u

Norms are Frobenius norms over the whole variable. The optimizer is a regular
`tf.compat.v1.train.Optimizer` subclass, so `apply_gradients` works unchanged under
`tf.distribute` strategies (gradients are aggregated in `merge_call`) and on TPU.
Slots are named `<var>/adam_m` and `<var>/adam_v`, as in google's checkpoints.

`optimization.AdamWeightDecayOptimizer` is this optimizer with the trust ratio fixed
at 1.0, which is exactly AdamW as BERT and ALBERT define it.

With `use_fused_kernel=True` (CPU training) each variable's step is one
fused_ops kernel (two passes over the variable and its moments instead of about
a dozen); the composite ops remain where that kernel cannot be built.
"""

import re

import tensorflow.compat.v1 as tf

import fused_ops

# Variables whose names match these are excluded from weight decay (and, by default,
# from layer adaptation), as in BERT/ALBERT.
DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")


class LAMBOptimizer(tf.train.Optimizer):
  """LAMB with decoupled weight decay and a per-variable trust ratio."""

  def __init__(self,
               learning_rate,
               weight_decay_rate=0.01,
               beta_1=0.9,
               beta_2=0.999,
               epsilon=1e-6,
               exclude_from_weight_decay=DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY,
               exclude_from_layer_adaptation=None,
               use_fused_kernel=False,
               name="LAMBOptimizer"):
    """Creates the optimizer.

    Args:
      learning_rate: float or scalar float Tensor.
      weight_decay_rate: decoupled weight decay coefficient `wd`.
      beta_1: decay of the first moment.
      beta_2: decay of the second moment.
      epsilon: added to sqrt(v) for stability.
      exclude_from_weight_decay: regexes; a variable whose name matches any of them
        gets no weight decay.
      exclude_from_layer_adaptation: regexes; matching variables use a trust ratio
        of 1.0. None means the same list as `exclude_from_weight_decay` (google's
        behaviour).
      use_fused_kernel: apply float32 updates with fused_ops' CPU kernel (the
        variables must live on the CPU).
      name: name of the optimizer (used for op name scopes).
    """
    super(LAMBOptimizer, self).__init__(use_locking=False, name=name)
    self.learning_rate = learning_rate
    self.weight_decay_rate = weight_decay_rate
    self.beta_1 = beta_1
    self.beta_2 = beta_2
    self.epsilon = epsilon
    self.exclude_from_weight_decay = tuple(exclude_from_weight_decay or ())
    if exclude_from_layer_adaptation is None:
      exclude_from_layer_adaptation = self.exclude_from_weight_decay
    self.exclude_from_layer_adaptation = tuple(exclude_from_layer_adaptation)
    self.use_fused_kernel = use_fused_kernel

  def _create_slots(self, var_list):
    for var in var_list:
      self._zeros_slot(var, "m", "adam_m")
      self._zeros_slot(var, "v", "adam_v")

  def _apply_dense(self, grad, var):
    return self._apply_update(grad, var)

  def _resource_apply_dense(self, grad, handle):
    return self._apply_update(grad, handle)

  def _apply_sparse(self, grad, var):
    return self._apply_update(
        _densify(grad.values, grad.indices, var), var)

  def _resource_apply_sparse(self, grad, handle, indices):
    # The trust ratio needs the norm of the whole update, so sparse gradients
    # (embedding lookups) are applied as dense ones.
    return self._apply_update(_densify(grad, indices, handle), handle)

  def _apply_update(self, grad, var):
    """Builds the ops that update `var` and its two moments from `grad`."""
    var_name = _variable_name(var)
    m = self.get_slot(var, "m")
    v = self.get_slot(var, "v")
    grad = tf.cast(grad, var.dtype.base_dtype)
    decays = bool(self.weight_decay_rate) and not _matches_any(
        var_name, self.exclude_from_weight_decay)
    adapts = self._adapts_layer(var_name)
    learning_rate = tf.cast(self.learning_rate, var.dtype.base_dtype)

    kernels = self._fused_kernels(var)
    if kernels is not None:
      next_var, next_m, next_v = kernels.albert_lamb_update(
          var, m, v, grad, learning_rate, beta_1=self.beta_1,
          beta_2=self.beta_2, one_minus_beta_1=1.0 - self.beta_1,
          one_minus_beta_2=1.0 - self.beta_2, epsilon=self.epsilon,
          weight_decay_rate=self.weight_decay_rate if decays else 0.0,
          layer_adaptation=adapts)
    else:
      next_m = self.beta_1 * m + (1.0 - self.beta_1) * grad
      next_v = self.beta_2 * v + (1.0 - self.beta_2) * tf.square(grad)
      update = next_m / (tf.sqrt(next_v) + self.epsilon)
      if decays:
        update += self.weight_decay_rate * var
      if adapts:
        learning_rate = self._trust_ratio(var, update) * learning_rate
      next_var = var - learning_rate * update
    return tf.group(
        var.assign(next_var), m.assign(next_m), v.assign(next_v))

  def _fused_kernels(self, var):
    if not self.use_fused_kernel or var.dtype.base_dtype != tf.float32:
      return None
    return fused_ops.library()

  def _adapts_layer(self, var_name):
    """Whether `var_name` gets the trust ratio (layer adaptation)."""
    return not _matches_any(var_name, self.exclude_from_layer_adaptation)

  def _trust_ratio(self, var, update):
    """||w|| / ||u||, falling back to 1.0 when either norm is zero."""
    var_norm = tf.norm(var)
    update_norm = tf.norm(update)
    safe_ratio = var_norm / tf.where(update_norm > 0.0, update_norm,
                                     tf.ones_like(update_norm))
    return tf.where(
        tf.logical_and(var_norm > 0.0, update_norm > 0.0), safe_ratio,
        tf.ones_like(var_norm))


def _densify(values, indices, var):
  """Sums IndexedSlices-style rows into a dense tensor shaped like `var`."""
  num_rows = tf.shape(var, out_type=indices.dtype)[0]
  return tf.math.unsorted_segment_sum(values, indices, num_rows)


def _variable_name(var):
  """'bert/x/kernel:0' -> 'bert/x/kernel'."""
  match = re.match("^(.*):\\d+$", var.name)
  return match.group(1) if match else var.name


def _matches_any(name, patterns):
  return any(re.search(pattern, name) is not None for pattern in patterns)
