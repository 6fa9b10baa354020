# coding=utf-8
"""Tests for lamb_optimizer.py and optimization.py.

Both optimizers are checked against two steps recorded from google-research/albert
(testdata/optimizer/optimizer_steps.npz) and against a NumPy transcription of the
published formula; the schedule is checked at chosen steps.
"""

import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import fused_ops
import lamb_optimizer
import optimization

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata",
                      "optimizer", "optimizer_steps.npz")
# The recording used lr 0.01, wd 0.01 and the default betas/epsilon, no clipping.
GOLDEN_LR = 0.01
EXCLUDED = ("LayerNorm", "layer_norm", "bias")


def load_golden():
  data = np.load(GOLDEN)
  names = sorted(k[len("init/"):] for k in data.files if k.startswith("init/"))
  return data, names


# The fused update kernel needs a C++ compiler to exist (see fused_ops_test).
needs_compiler = pytest.mark.skipif(
    not fused_ops.compiler_found(),
    reason="no C++ compiler to build fused_ops.cc")


def run_optimizer_steps(optimizer_cls, init, grads_per_step, learning_rate,
                        use_fused_kernel=False):
  """Applies `grads_per_step` (list of {name: grad}) and returns values per step."""
  with tf.Graph().as_default():
    variables = {
        name: tf.get_variable(name, initializer=tf.constant(value))
        for name, value in init.items()
    }
    feeds = {name: tf.placeholder(tf.float32, value.shape)
             for name, value in init.items()}
    optimizer = optimizer_cls(learning_rate, use_fused_kernel=use_fused_kernel)
    if use_fused_kernel:
      assert fused_ops.library() is not None, "fused_ops.cc did not build"
    global_step = tf.train.get_or_create_global_step()
    train_op = optimizer.apply_gradients(
        [(feeds[name], variables[name]) for name in sorted(variables)],
        global_step=global_step)
    results = []
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      for grads in grads_per_step:
        sess.run(train_op, {feeds[n]: g for n, g in grads.items()})
        results.append(sess.run(variables))
      assert sess.run(global_step) == len(grads_per_step)
  return results


def numpy_steps(init, grads_per_step, lr, layer_adaptation, wd=0.01, b1=0.9,
                b2=0.999, eps=1e-6):
  """The published LAMB/AdamW formula in float64 NumPy."""
  params = {n: v.astype(np.float64) for n, v in init.items()}
  m = {n: np.zeros_like(v) for n, v in params.items()}
  v = {n: np.zeros_like(p) for n, p in params.items()}
  results = []
  for grads in grads_per_step:
    for name, grad in grads.items():
      excluded = any(pattern in name for pattern in EXCLUDED)
      m[name] = b1 * m[name] + (1 - b1) * grad
      v[name] = b2 * v[name] + (1 - b2) * grad**2
      update = m[name] / (np.sqrt(v[name]) + eps)
      if not excluded:
        update = update + wd * params[name]
      ratio = 1.0
      w_norm, u_norm = np.linalg.norm(params[name]), np.linalg.norm(update)
      if layer_adaptation and not excluded and w_norm > 0 and u_norm > 0:
        ratio = w_norm / u_norm
      params[name] = params[name] - ratio * lr * update
    results.append(dict(params))
  return results


@pytest.mark.parametrize("use_fused_kernel", [
    False, pytest.param(True, marks=needs_compiler)])
@pytest.mark.parametrize("optimizer_cls,key", [
    (lamb_optimizer.LAMBOptimizer, "lamb"),
    (optimization.AdamWeightDecayOptimizer, "adamw"),
])
def test_matches_recorded_google_steps(optimizer_cls, key, use_fused_kernel):
  """Both the composite and the one-kernel update (CPU training)."""
  data, names = load_golden()
  init = {n: data["init/" + n] for n in names}
  grads = [{n: data["grad%d/%s" % (s, n)] for n in names} for s in (1, 2)]
  steps = run_optimizer_steps(optimizer_cls, init, grads, GOLDEN_LR,
                              use_fused_kernel)
  reference = numpy_steps(init, grads, GOLDEN_LR, layer_adaptation=key == "lamb")
  for step in (1, 2):
    for name in names:
      expected = data["%s_step%d/%s" % (key, step, name)]
      message = "%s %s" % (key, name)
      if use_fused_kernel:
        # Norms summed in float64 and a different association: not bitwise.
        np.testing.assert_allclose(steps[step - 1][name], expected, rtol=2e-6,
                                   atol=1e-8, err_msg=message)
        assert (not np.array_equal(expected, init[name])
                or not grads[0][name].any())
      else:
        # Same float32 operations in the same order: bit-for-bit equal.
        np.testing.assert_array_equal(steps[step - 1][name], expected,
                                      err_msg=message)
      np.testing.assert_allclose(reference[step - 1][name], expected,
                                 rtol=1e-5, atol=1e-7)


@needs_compiler
def test_fused_update_of_a_large_variable_matches_numpy():
  """Sizes that span many of the kernel's parallel blocks, and a ragged end."""
  rng = np.random.RandomState(3)
  init = {"big/kernel": rng.normal(size=(301, 1001)).astype(np.float32),
          "big/bias": rng.normal(size=(1001,)).astype(np.float32)}
  grads = [{n: rng.normal(size=v.shape).astype(np.float32)
            for n, v in init.items()} for _ in range(3)]
  steps = run_optimizer_steps(lamb_optimizer.LAMBOptimizer, init, grads, 0.01,
                              use_fused_kernel=True)
  reference = numpy_steps(init, grads, 0.01, layer_adaptation=True)
  for got, expected in zip(steps, reference):
    for name in init:
      np.testing.assert_allclose(got[name], expected[name], rtol=1e-5,
                                 atol=1e-6, err_msg=name)


@needs_compiler
def test_create_optimizer_uses_the_fused_update_when_asked():
  with tf.Graph().as_default() as graph:
    w = tf.get_variable("w/kernel", initializer=tf.constant([[3.0, 4.0]]))
    optimization.create_optimizer(
        tf.reduce_sum(w), 0.1, num_train_steps=10, num_warmup_steps=0,
        use_tpu=False, use_fused_kernels=True)
    op_types = {op.type for op in graph.get_operations()}
  assert "AlbertLambUpdate" in op_types
  assert "Square" not in op_types  # no composite update alongside


def test_lamb_differs_from_adamw_only_by_trust_ratio():
  """The kernel update is rescaled by ||w||/||u||; the excluded ones are not."""
  data, names = load_golden()
  assert not np.allclose(data["lamb_step1/layer/dense/kernel"],
                         data["adamw_step1/layer/dense/kernel"])
  np.testing.assert_array_equal(data["lamb_step1/layer/dense/bias"],
                                data["adamw_step1/layer/dense/bias"])
  assert "zero/kernel" in names  # the zero-norm fallback is exercised


@pytest.mark.parametrize("use_fused_kernel", [
    False, pytest.param(True, marks=needs_compiler)])
def test_sparse_gradient_equals_dense(use_fused_kernel):
  init = {"emb/word_embeddings": np.arange(12, dtype=np.float32).reshape(4, 3)}
  with tf.Graph().as_default():
    table = tf.get_variable("emb/word_embeddings",
                            initializer=tf.constant(init["emb/word_embeddings"]))
    # Row 1 gathered twice, row 3 once: the gradient is IndexedSlices.
    loss = tf.reduce_sum(tf.gather(table, [1, 1, 3]) * [[1., 2., 3.]])
    grad = tf.gradients(loss, [table])[0]
    assert isinstance(grad, tf.IndexedSlices)
    train_op = lamb_optimizer.LAMBOptimizer(
        0.1, use_fused_kernel=use_fused_kernel).apply_gradients([(grad, table)])
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      sess.run(train_op)
      got = sess.run(table)
  dense_grad = np.zeros((4, 3))
  dense_grad[1] = [2., 4., 6.]
  dense_grad[3] = [1., 2., 3.]
  dense_grad[[0, 2]] = 0.0
  expected = numpy_steps(init, [{"emb/word_embeddings": dense_grad}], 0.1,
                         layer_adaptation=True)[0]["emb/word_embeddings"]
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def numpy_schedule(step, init_lr, num_train_steps, num_warmup_steps, power,
                   start_warmup_step):
  decayed = init_lr * (1.0 - min(step, num_train_steps) / num_train_steps)**power
  into_warmup = max(step - start_warmup_step, 0)
  if num_warmup_steps and into_warmup < num_warmup_steps:
    return init_lr * into_warmup / num_warmup_steps
  return decayed


@pytest.mark.parametrize("power,start", [(1.0, 0), (2.0, 0), (1.0, 50)])
def test_learning_rate_schedule(power, start):
  steps = [0, 1, 5, 10, 49, 50, 55, 59, 60, 61, 100, 150, 199, 200, 250]
  with tf.Graph().as_default():
    step = tf.placeholder(tf.int64, [])
    lr = optimization.learning_rate_schedule(step, 1e-3, 200, 10, power, start)
    with tf.Session() as sess:
      got = [sess.run(lr, {step: s}) for s in steps]
  expected = [numpy_schedule(s, 1e-3, 200, 10, power, start) for s in steps]
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-10)
  assert min(got) >= 0.0, "negative learning rate %s" % got
  if start:
    # Nothing is learned before warmup starts (the original went negative here).
    assert got[steps.index(10)] == 0.0 and got[steps.index(49)] == 0.0
    np.testing.assert_allclose(got[steps.index(55)], 1e-3 * 5 / 10, rtol=1e-6)
  # Peak right after warmup, zero at and after num_train_steps.
  assert got[steps.index(200)] == 0.0 and got[steps.index(250)] == 0.0


def test_schedule_without_warmup_is_pure_decay():
  with tf.Graph().as_default():
    lr = optimization.learning_rate_schedule(tf.constant(50, tf.int64), 0.1,
                                             100, 0)
    with tf.Session() as sess:
      np.testing.assert_allclose(sess.run(lr), 0.05, rtol=1e-6)


@pytest.mark.parametrize("name", ["lamb", "adamw"])
def test_create_optimizer_clips_and_steps(name):
  """A huge gradient is clipped to norm 1 before the (scale-sensitive) update."""
  with tf.Graph().as_default():
    w = tf.get_variable("w/kernel", initializer=tf.constant([[3.0, 4.0]]))
    loss = 1e6 * tf.reduce_sum(w)
    train_op, lr = optimization.create_optimizer(
        loss, 0.1, num_train_steps=10, num_warmup_steps=0, use_tpu=False,
        optimizer=name)
    opt_vars = {v.op.name: v for v in tf.global_variables()}
    assert "w/kernel/adam_v" in opt_vars
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      sess.run(train_op)
      assert sess.run(tf.train.get_global_step()) == 1
      np.testing.assert_allclose(sess.run(lr), 0.09, rtol=1e-6)
      m = sess.run(opt_vars["w/kernel/adam_m"])
  # Clipped gradient is [1, 1] / sqrt(2); m = 0.1 * g.
  np.testing.assert_allclose(m, [[0.1 / np.sqrt(2)] * 2], rtol=1e-5)


def test_unknown_optimizer_is_rejected():
  with pytest.raises(ValueError, match="lamb"):
    optimization.make_optimizer("sgd", 0.1)
