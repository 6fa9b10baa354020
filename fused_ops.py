"""Fused CPU kernels for GELU, LayerNorm, some gradients and LAMB, built on first use.

TensorFlow has no single op for ALBERT's tanh-approximated GELU, for its
LayerNorm, for the gradient of softmax or for a LAMB step: their composites
make many element-wise passes over the activations (or the variables), about a
fifth of a CPU pretraining step. fused_ops.cc does each in one or two passes,
and sums bias gradients on every core. This module compiles it with the C++
compiler (`$CXX`, default g++) against the installed TensorFlow's headers,
caches the library under build/ beside this file (keyed by the source, the
TensorFlow version and the CPU), loads it and registers the gradients.

modeling.AlbertModel(use_fused_kernels=True) asks for it; where it cannot be
built (no compiler) the model keeps the composites and a warning says so. The
ops have CPU kernels only and exist only in processes that imported this
module, so graphs meant for a GPU, a TPU or export never use them.
"""

import hashlib
import os
import shutil
import subprocess
import threading

import tensorflow.compat.v1 as tf

_HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(_HERE, "fused_ops.cc")
BUILD_DIR = os.path.join(_HERE, "build")
# For graph.gradient_override_map: these ops keep TensorFlow's forward kernels
# and get a faster gradient on the CPU.
GRADIENT_OVERRIDES = {"Softmax": "AlbertSoftmax", "BiasAdd": "AlbertBiasAdd",
                      "MatMul": "AlbertMatMul"}

_lock = threading.Lock()
_state = {}  # "library": the loaded op module, or None once a build failed


def library():
  """The loaded op module (albert_gelu, albert_layer_norm, ...), or None.

  None means the library could not be built or loaded; a warning said why.
  """
  with _lock:
    if "library" not in _state:
      _state["library"] = _load()
  return _state["library"]


def _load():
  try:
    path = build_library(BUILD_DIR)
  except BuildError as error:
    tf.logging.warning("Using the composite GELU and LayerNorm (slower on "
                       "CPU): %s", error)
    return None
  try:
    ops = tf.load_op_library(path)
  except tf.errors.OpError as error:
    tf.logging.warning("Using the composite GELU and LayerNorm: cannot load "
                       "%s (%s)", path, error.message)
    return None
  _register_gradients(ops)
  return ops


def _register_gradients(ops):
  @tf.RegisterGradient("AlbertGelu")
  def _gelu_grad(op, grad):
    return ops.albert_gelu_grad(grad, op.inputs[0])

  @tf.RegisterGradient("AlbertLayerNorm")
  def _layer_norm_grad(op, grad, unused_mean_grad, unused_rstd_grad):
    return ops.albert_layer_norm_grad(grad, op.inputs[0], op.inputs[1],
                                      op.outputs[1], op.outputs[2])

  @tf.RegisterGradient("AlbertSoftmaxCrossEntropy")
  def _cross_entropy_grad(op, grad, unused_softmax_grad):
    return (ops.albert_softmax_cross_entropy_grad(grad, op.outputs[1],
                                                  op.inputs[1]), None)

  @tf.RegisterGradient(GRADIENT_OVERRIDES["Softmax"])
  def _softmax_grad(op, grad):
    return ops.albert_softmax_grad(grad, op.outputs[0])

  @tf.RegisterGradient(GRADIENT_OVERRIDES["MatMul"])
  def _matmul_grad(op, grad):
    return matmul_gradients(op.inputs[0], op.inputs[1], grad,
                            op.get_attr("transpose_a"),
                            op.get_attr("transpose_b"))

  @tf.RegisterGradient(GRADIENT_OVERRIDES["BiasAdd"])
  def _bias_add_grad(op, grad):
    if op.get_attr("data_format") != b"NHWC":  # bias on the last axis only
      return grad, tf.raw_ops.BiasAddGrad(out_backprop=grad,
                                          data_format=op.get_attr("data_format"))
    return grad, ops.albert_bias_add_grad(grad)


def matmul_gradients(a, b, grad, transpose_a=False, transpose_b=False):
  """Gradients of tf.matmul(a, b, transpose_a, transpose_b) for a and b.

  The same products as TensorFlow's gradient, except one: for a wide kernel b
  of shape [K, N], N >= 2K (the FFN's input kernel), grad @ b^T runs as a
  one-element batch matmul. oneDNN computes that with its batched-matmul
  kernel, measured 12-19% faster on a 2-core AVX-512 CPU than its 2-D sgemm
  at the tiny and base FFN shapes (and slower for the other products).
  """
  if not transpose_a and not transpose_b:
    rows, columns = (tf.compat.dimension_value(d) for d in b.shape)
    if rows and columns and columns >= 2 * rows:
      grad_a = tf.squeeze(tf.linalg.matmul(grad[None], b[None], adjoint_b=True),
                          0)
    else:
      grad_a = tf.matmul(grad, b, transpose_b=True)
    return grad_a, tf.matmul(a, grad, transpose_a=True)
  if not transpose_a:  # a @ b^T
    return tf.matmul(grad, b), tf.matmul(grad, a, transpose_a=True)
  if not transpose_b:  # a^T @ b
    return tf.matmul(b, grad, transpose_b=True), tf.matmul(a, grad)
  return (tf.matmul(b, grad, transpose_a=True, transpose_b=True),
          tf.matmul(grad, a, transpose_a=True, transpose_b=True))


class BuildError(Exception):
  pass


def default_compiler():
  """The C++ compiler to build with: $CXX, else g++."""
  return os.environ.get("CXX", "g++")


def compiler_found():
  return shutil.which(default_compiler()) is not None


def build_library(build_dir, compiler=None):
  """Compiles fused_ops.cc into build_dir unless already there; returns the path.

  Raises:
    BuildError: no compiler, or the compilation failed (with its output).
  """
  compiler = compiler or default_compiler()
  command = ([compiler, "-std=c++17", "-shared", "-fPIC", "-O3",
              "-march=native", SOURCE] + tf.sysconfig.get_compile_flags() +
             tf.sysconfig.get_link_flags())
  path = os.path.join(build_dir, "fused_ops-%s.so" % _cache_key(command))
  if os.path.exists(path):
    return path
  try:
    os.makedirs(build_dir, exist_ok=True)
  except OSError as error:
    raise BuildError("cannot create %s (%s)" % (build_dir, error))
  partial = "%s.%d.tmp" % (path, os.getpid())
  tf.logging.info("Compiling %s (once, ~15 s)", SOURCE)
  try:
    result = subprocess.run(command + ["-o", partial], capture_output=True,
                            text=True, check=False)
  except OSError as error:
    raise BuildError("cannot run the C++ compiler %r (%s); install g++ or set "
                     "CXX" % (compiler, error))
  if result.returncode != 0:
    if os.path.exists(partial):
      os.remove(partial)
    raise BuildError("%s failed on %s:\n%s" % (compiler, SOURCE,
                                              result.stderr[-2000:]))
  os.replace(partial, path)  # whole or absent, even with concurrent builds
  return path


def _cache_key(command):
  digest = hashlib.sha256()
  with open(SOURCE, "rb") as source:
    digest.update(source.read())
  digest.update(" ".join(command).encode())
  digest.update(tf.__version__.encode())
  digest.update(_cpu_flags().encode())  # -march=native code is CPU-specific
  return digest.hexdigest()[:16]


def _cpu_flags():
  try:
    with open("/proc/cpuinfo") as cpuinfo:
      for line in cpuinfo:
        if line.startswith("flags"):
          return line
  except OSError:
    pass
  return ""
