// Fused CPU kernels for ALBERT's tanh-approximated GELU and its LayerNorm,
// each with its gradient, the softmax gradient, and the LAMB/AdamW update.
//
// TensorFlow has no single op for either: the composites in modeling.py cost
// eight to twenty element-wise passes each (forward and backward) over the
// [B*T, width] activations, and on a 2-core CPU those passes were a fifth of a
// pretraining step. Here each direction is one pass, vectorised by Eigen and
// spread over TensorFlow's intra-op threads. fused_ops.py compiles and loads
// this file; modeling.py falls back to the composites when it cannot.

#define EIGEN_USE_THREADS

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"

namespace {

using tensorflow::DEVICE_CPU;
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Status;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

using Row = Eigen::Map<const Eigen::ArrayXf>;
using MutableRow = Eigen::Map<Eigen::ArrayXf>;

constexpr float kSqrtTwoOverPi = 0.7978845608028654f;
constexpr float kCubicCoefficient = 0.044715f;

// Runs work(begin, end) over [0, units) on TensorFlow's intra-op threads.
void ParallelFor(OpKernelContext* context, int64_t units, int64_t cost_per_unit,
                 const std::function<void(int64_t, int64_t)>& work) {
  context->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(
      units, cost_per_unit, work);
}

// Start of part `block` of [0, size) cut into `num_blocks` near-equal parts.
int64_t BlockStart(int64_t size, int64_t block, int64_t num_blocks) {
  return size * block / num_blocks;
}

// ---------------------------------------------------------------------------
// GELU: x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).

REGISTER_OP("AlbertGelu")
    .Input("features: float")
    .Output("activations: float")
    .SetShapeFn(tensorflow::shape_inference::UnchangedShape)
    .Doc("ALBERT's tanh-approximated GELU.");

REGISTER_OP("AlbertGeluGrad")
    .Input("gradients: float")
    .Input("features: float")
    .Output("backprops: float")
    .SetShapeFn(tensorflow::shape_inference::UnchangedShape)
    .Doc("gradients * d AlbertGelu(features) / d features.");

class AlbertGeluOp : public OpKernel {
 public:
  explicit AlbertGeluOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& features = context->input(0);
    Tensor* activations = nullptr;
    OP_REQUIRES_OK(context, context->forward_input_or_allocate_output(
                                {0}, 0, features.shape(), &activations));
    auto x = features.flat<float>();
    auto inner = (x + x * x * x * kCubicCoefficient) * kSqrtTwoOverPi;
    activations->flat<float>().device(context->eigen_cpu_device()) =
        x * (inner.tanh() + 1.0f) * 0.5f;
  }
};

class AlbertGeluGradOp : public OpKernel {
 public:
  explicit AlbertGeluGradOp(OpKernelConstruction* context)
      : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& gradients = context->input(0);
    const Tensor& features = context->input(1);
    OP_REQUIRES(context, gradients.shape() == features.shape(),
                tensorflow::errors::InvalidArgument(
                    "AlbertGeluGrad: gradients ", gradients.shape().DebugString(),
                    " and features ", features.shape().DebugString(),
                    " differ in shape"));
    Tensor* backprops = nullptr;
    OP_REQUIRES_OK(context, context->forward_input_or_allocate_output(
                                {0}, 0, features.shape(), &backprops));
    const float* upstream = gradients.flat<float>().data();
    const float* inputs = features.flat<float>().data();
    float* outputs = backprops->flat<float>().data();
    // In chunks, so that tanh is evaluated once per element (an Eigen tensor
    // expression would evaluate it once per use).
    constexpr int64_t kChunk = 2048;
    const int64_t size = features.NumElements();
    auto backprop_chunks = [&](int64_t first_chunk, int64_t last_chunk) {
      Eigen::ArrayXf t(kChunk);
      for (int64_t chunk = first_chunk; chunk < last_chunk; ++chunk) {
        const int64_t begin = chunk * kChunk;
        const int64_t n = std::min(kChunk, size - begin);
        Row x(inputs + begin, n);
        auto x_squared = x.square();
        t.head(n) = ((x + x * x_squared * kCubicCoefficient) * kSqrtTwoOverPi)
                        .tanh();
        auto tanh = t.head(n);
        // d/dx [x (1 + t) / 2] = (1 + t) / 2 + x (1 - t^2) u' / 2,
        // with u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
        auto inner_derivative =
            (x_squared * (3.0f * kCubicCoefficient) + 1.0f) * kSqrtTwoOverPi;
        // `outputs` may alias `upstream` (forwarded input): same index only.
        MutableRow(outputs + begin, n) =
            Row(upstream + begin, n) *
            ((tanh + 1.0f) + x * (1.0f - tanh.square()) * inner_derivative) *
            0.5f;
      }
    };
    ParallelFor(context, (size + kChunk - 1) / kChunk, 40 * kChunk,
                backprop_chunks);
  }
};

REGISTER_KERNEL_BUILDER(Name("AlbertGelu").Device(DEVICE_CPU), AlbertGeluOp);
REGISTER_KERNEL_BUILDER(Name("AlbertGeluGrad").Device(DEVICE_CPU),
                        AlbertGeluGradOp);

// ---------------------------------------------------------------------------
// LayerNorm over the last axis: y = (x - mean) * rstd * gamma + beta with
// rstd = 1 / sqrt(variance + epsilon). The row statistics are outputs so the
// gradient need not recompute them.

Status LayerNormShape(InferenceContext* context) {
  ShapeHandle x, rows;
  TF_RETURN_IF_ERROR(context->WithRankAtLeast(context->input(0), 1, &x));
  TF_RETURN_IF_ERROR(context->Subshape(x, 0, -1, &rows));
  context->set_output(0, x);
  context->set_output(1, rows);
  context->set_output(2, rows);
  return Status();
}

Status LayerNormGradShape(InferenceContext* context) {
  context->set_output(0, context->input(1));
  context->set_output(1, context->input(2));
  context->set_output(2, context->input(2));
  return Status();
}

REGISTER_OP("AlbertLayerNorm")
    .Input("x: float")
    .Input("gamma: float")
    .Input("beta: float")
    .Output("y: float")
    .Output("mean: float")
    .Output("rstd: float")
    .Attr("epsilon: float")
    .SetShapeFn(LayerNormShape)
    .Doc("LayerNorm over the last axis; also returns each row's mean and rstd.");

REGISTER_OP("AlbertLayerNormGrad")
    .Input("dy: float")
    .Input("x: float")
    .Input("gamma: float")
    .Input("mean: float")
    .Input("rstd: float")
    .Output("dx: float")
    .Output("dgamma: float")
    .Output("dbeta: float")
    .SetShapeFn(LayerNormGradShape)
    .Doc("Gradients of AlbertLayerNorm's y.");

// Rows and width of `x` seen as [rows, width]; checks gamma's size.
Status RowsAndWidth(const Tensor& x, const Tensor& gamma, int64_t* rows,
                    int64_t* width) {
  if (x.dims() < 1) {
    return tensorflow::errors::InvalidArgument(
        "AlbertLayerNorm needs an input of rank >= 1");
  }
  *width = x.dim_size(x.dims() - 1);
  if (gamma.NumElements() != *width) {
    return tensorflow::errors::InvalidArgument(
        "AlbertLayerNorm: gamma has ", gamma.NumElements(),
        " entries for an input of width ", *width);
  }
  *rows = *width ? x.NumElements() / *width : 0;
  return Status();
}

class AlbertLayerNormOp : public OpKernel {
 public:
  explicit AlbertLayerNormOp(OpKernelConstruction* context)
      : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("epsilon", &epsilon_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& x = context->input(0);
    const Tensor& gamma = context->input(1);
    const Tensor& beta = context->input(2);
    int64_t rows = 0, width = 0;
    OP_REQUIRES_OK(context, RowsAndWidth(x, gamma, &rows, &width));
    TensorShape row_shape = x.shape();
    row_shape.RemoveLastDims(1);
    Tensor *y = nullptr, *mean = nullptr, *rstd = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, x.shape(), &y));
    OP_REQUIRES_OK(context, context->allocate_output(1, row_shape, &mean));
    OP_REQUIRES_OK(context, context->allocate_output(2, row_shape, &rstd));
    const float* inputs = x.flat<float>().data();
    float* outputs = y->flat<float>().data();
    float* means = mean->flat<float>().data();
    float* rstds = rstd->flat<float>().data();
    Row scale(gamma.flat<float>().data(), width);
    Row offset(beta.flat<float>().data(), width);
    const float epsilon = epsilon_;
    auto normalize_rows = [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        Row row(inputs + r * width, width);
        const float row_mean = row.mean();
        // Centred before squaring, as the composite does: no cancellation.
        const float variance = (row - row_mean).square().mean();
        const float row_rstd = 1.0f / std::sqrt(variance + epsilon);
        MutableRow(outputs + r * width, width) =
            (row - row_mean) * row_rstd * scale + offset;
        means[r] = row_mean;
        rstds[r] = row_rstd;
      }
    };
    ParallelFor(context, rows, 8 * width, normalize_rows);
  }

 private:
  float epsilon_;
};

class AlbertLayerNormGradOp : public OpKernel {
 public:
  explicit AlbertLayerNormGradOp(OpKernelConstruction* context)
      : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& dy = context->input(0);
    const Tensor& x = context->input(1);
    const Tensor& gamma = context->input(2);
    int64_t rows = 0, width = 0;
    OP_REQUIRES_OK(context, RowsAndWidth(x, gamma, &rows, &width));
    OP_REQUIRES(context, dy.shape() == x.shape(),
                tensorflow::errors::InvalidArgument(
                    "AlbertLayerNormGrad: dy and x differ in shape"));
    Tensor *dx = nullptr, *dgamma = nullptr, *dbeta = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, x.shape(), &dx));
    OP_REQUIRES_OK(context,
                   context->allocate_output(1, gamma.shape(), &dgamma));
    OP_REQUIRES_OK(context, context->allocate_output(2, gamma.shape(), &dbeta));
    const float* upstream = dy.flat<float>().data();
    const float* inputs = x.flat<float>().data();
    const float* means = context->input(3).flat<float>().data();
    const float* rstds = context->input(4).flat<float>().data();
    float* input_grads = dx->flat<float>().data();
    Row scale(gamma.flat<float>().data(), width);

    // dgamma and dbeta sum over rows: each block of rows sums into its own
    // slice of `partial`, and the blocks are added up at the end.
    const int64_t num_blocks = std::min<int64_t>(rows, 64);
    std::vector<float> partial(2 * num_blocks * width, 0.0f);
    auto backprop_blocks = [&](int64_t first_block, int64_t last_block) {
      Eigen::ArrayXf normalized(width), scaled(width);
      for (int64_t block = first_block; block < last_block; ++block) {
        MutableRow gamma_sum(partial.data() + 2 * block * width, width);
        MutableRow beta_sum(partial.data() + (2 * block + 1) * width, width);
        for (int64_t r = BlockStart(rows, block, num_blocks);
             r < BlockStart(rows, block + 1, num_blocks); ++r) {
          Row up(upstream + r * width, width);
          normalized = (Row(inputs + r * width, width) - means[r]) * rstds[r];
          scaled = up * scale;
          // d/dx of the normalisation: subtract the parts of the upstream
          // gradient along the mean and along the normalised row.
          MutableRow(input_grads + r * width, width) =
              (scaled - scaled.mean() - normalized * (scaled * normalized).mean())
              * rstds[r];
          gamma_sum += up * normalized;
          beta_sum += up;
        }
      }
    };
    const int64_t cost_per_block =
        num_blocks ? 16 * width * rows / num_blocks : 0;
    ParallelFor(context, num_blocks, cost_per_block, backprop_blocks);
    MutableRow gamma_grad(dgamma->flat<float>().data(), width);
    MutableRow beta_grad(dbeta->flat<float>().data(), width);
    gamma_grad.setZero();
    beta_grad.setZero();
    for (int64_t block = 0; block < num_blocks; ++block) {
      gamma_grad += MutableRow(partial.data() + 2 * block * width, width);
      beta_grad += MutableRow(partial.data() + (2 * block + 1) * width, width);
    }
  }
};

REGISTER_KERNEL_BUILDER(Name("AlbertLayerNorm").Device(DEVICE_CPU),
                        AlbertLayerNormOp);
REGISTER_KERNEL_BUILDER(Name("AlbertLayerNormGrad").Device(DEVICE_CPU),
                        AlbertLayerNormGradOp);

// ---------------------------------------------------------------------------
// The gradient of softmax over the last axis, given its output p:
// dx = p * (dy - sum(dy * p)). TensorFlow builds it from four ops, each a pass
// over the [B, N, T, T] attention probabilities.

REGISTER_OP("AlbertSoftmaxGrad")
    .Input("gradients: float")
    .Input("softmax: float")
    .Output("backprops: float")
    .SetShapeFn(tensorflow::shape_inference::UnchangedShape)
    .Doc("Gradient of softmax over the last axis from its output.");

class AlbertSoftmaxGradOp : public OpKernel {
 public:
  explicit AlbertSoftmaxGradOp(OpKernelConstruction* context)
      : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& gradients = context->input(0);
    const Tensor& softmax = context->input(1);
    OP_REQUIRES(context, gradients.shape() == softmax.shape() &&
                             softmax.dims() >= 1,
                tensorflow::errors::InvalidArgument(
                    "AlbertSoftmaxGrad: gradients ",
                    gradients.shape().DebugString(), " and softmax ",
                    softmax.shape().DebugString(),
                    " must have one shape of rank >= 1"));
    Tensor* backprops = nullptr;
    OP_REQUIRES_OK(context, context->forward_input_or_allocate_output(
                                {0}, 0, softmax.shape(), &backprops));
    const int64_t width = softmax.dim_size(softmax.dims() - 1);
    const int64_t rows = width ? softmax.NumElements() / width : 0;
    const float* upstream = gradients.flat<float>().data();
    const float* probabilities = softmax.flat<float>().data();
    float* outputs = backprops->flat<float>().data();
    auto backprop_rows = [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        Row up(upstream + r * width, width);
        Row p(probabilities + r * width, width);
        const float along_p = (up * p).sum();
        // `outputs` may alias `upstream` (forwarded input): read it first.
        MutableRow(outputs + r * width, width) = p * (up - along_p);
      }
    };
    ParallelFor(context, rows, 4 * width, backprop_rows);
  }
};

REGISTER_KERNEL_BUILDER(Name("AlbertSoftmaxGrad").Device(DEVICE_CPU),
                        AlbertSoftmaxGradOp);

// ---------------------------------------------------------------------------
// Softmax cross-entropy of [N, V] logits against int labels [N], returning
// the softmax for the gradient: (softmax - one_hot(labels)) * dloss. Over the
// MLM head's vocabulary the composite (softmax, two reductions, a one-hot,
// a subtraction and a product) makes six passes over [N, V]; this makes one
// each way, a row at a time while the row is in cache.

Status CrossEntropyShape(InferenceContext* context) {
  ShapeHandle logits, labels;
  TF_RETURN_IF_ERROR(context->WithRank(context->input(0), 2, &logits));
  TF_RETURN_IF_ERROR(context->WithRank(context->input(1), 1, &labels));
  context->set_output(0, labels);
  context->set_output(1, logits);
  return Status();
}

REGISTER_OP("AlbertSoftmaxCrossEntropy")
    .Input("logits: float")
    .Input("labels: int32")
    .Output("loss: float")
    .Output("softmax: float")
    .SetShapeFn(CrossEntropyShape)
    .Doc("Per-row cross-entropy and the softmax of the logits.");

REGISTER_OP("AlbertSoftmaxCrossEntropyGrad")
    .Input("loss_gradients: float")
    .Input("softmax: float")
    .Input("labels: int32")
    .Output("backprops: float")
    .SetShapeFn([](InferenceContext* context) {
      context->set_output(0, context->input(1));
      return Status();
    })
    .Doc("Gradient of AlbertSoftmaxCrossEntropy's loss for its logits.");

// Checks that `labels` has one entry per row of `matrix`, each in [0, width).
Status CheckLabels(const char* op, const Tensor& matrix, const Tensor& labels) {
  if (matrix.dims() != 2 || labels.dims() != 1 ||
      labels.dim_size(0) != matrix.dim_size(0)) {
    return tensorflow::errors::InvalidArgument(
        op, ": needs [N, V] logits and [N] labels, got ",
        matrix.shape().DebugString(), " and ", labels.shape().DebugString());
  }
  const int64_t width = matrix.dim_size(1);
  auto label = labels.flat<int32_t>();
  for (int64_t r = 0; r < labels.NumElements(); ++r) {
    if (label(r) < 0 || label(r) >= width) {
      return tensorflow::errors::InvalidArgument(
          op, ": label ", label(r), " of row ", r, " is outside [0, ", width,
          ")");
    }
  }
  return Status();
}

class AlbertSoftmaxCrossEntropyOp : public OpKernel {
 public:
  explicit AlbertSoftmaxCrossEntropyOp(OpKernelConstruction* context)
      : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& logits = context->input(0);
    const Tensor& labels = context->input(1);
    OP_REQUIRES_OK(context,
                   CheckLabels("AlbertSoftmaxCrossEntropy", logits, labels));
    Tensor *loss = nullptr, *softmax = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, labels.shape(), &loss));
    OP_REQUIRES_OK(context,
                   context->allocate_output(1, logits.shape(), &softmax));
    const int64_t width = logits.dim_size(1);
    const float* inputs = logits.flat<float>().data();
    const int32_t* label = labels.flat<int32_t>().data();
    float* losses = loss->flat<float>().data();
    float* probabilities = softmax->flat<float>().data();
    auto rows_softmax = [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        Row x(inputs + r * width, width);
        MutableRow p(probabilities + r * width, width);
        const float row_max = x.maxCoeff();
        p = (x - row_max).exp();
        const float total = p.sum();  // >= 1: the maximum contributes exp(0)
        p *= 1.0f / total;
        losses[r] = std::log(total) - (x[label[r]] - row_max);
      }
    };
    ParallelFor(context, logits.dim_size(0), 20 * width, rows_softmax);
  }
};

class AlbertSoftmaxCrossEntropyGradOp : public OpKernel {
 public:
  explicit AlbertSoftmaxCrossEntropyGradOp(OpKernelConstruction* context)
      : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& loss_gradients = context->input(0);
    const Tensor& softmax = context->input(1);
    const Tensor& labels = context->input(2);
    OP_REQUIRES_OK(context, CheckLabels("AlbertSoftmaxCrossEntropyGrad",
                                        softmax, labels));
    OP_REQUIRES(context, loss_gradients.shape() == labels.shape(),
                tensorflow::errors::InvalidArgument(
                    "AlbertSoftmaxCrossEntropyGrad: loss gradients ",
                    loss_gradients.shape().DebugString(), " for labels ",
                    labels.shape().DebugString()));
    Tensor* backprops = nullptr;
    OP_REQUIRES_OK(context, context->forward_input_or_allocate_output(
                                {1}, 0, softmax.shape(), &backprops));
    const int64_t width = softmax.dim_size(1);
    const float* probabilities = softmax.flat<float>().data();
    const float* upstream = loss_gradients.flat<float>().data();
    const int32_t* label = labels.flat<int32_t>().data();
    float* outputs = backprops->flat<float>().data();
    auto rows_backprop = [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        MutableRow(outputs + r * width, width) =
            Row(probabilities + r * width, width) * upstream[r];
        outputs[r * width + label[r]] -= upstream[r];
      }
    };
    ParallelFor(context, softmax.dim_size(0), 2 * width, rows_backprop);
  }
};

REGISTER_KERNEL_BUILDER(Name("AlbertSoftmaxCrossEntropy").Device(DEVICE_CPU),
                        AlbertSoftmaxCrossEntropyOp);
REGISTER_KERNEL_BUILDER(
    Name("AlbertSoftmaxCrossEntropyGrad").Device(DEVICE_CPU),
    AlbertSoftmaxCrossEntropyGradOp);

// ---------------------------------------------------------------------------
// The gradient of a bias added along the last axis: the column sums of the
// upstream gradient. Each block of rows sums into its own row of partial sums
// (TensorFlow's reduction keeps one core busy on these [B*T, width] shapes).

REGISTER_OP("AlbertBiasAddGrad")
    .Input("gradients: float")
    .Output("bias_backprop: float")
    .SetShapeFn([](InferenceContext* context) {
      ShapeHandle gradients;
      TF_RETURN_IF_ERROR(
          context->WithRankAtLeast(context->input(0), 1, &gradients));
      context->set_output(0, context->Vector(context->Dim(gradients, -1)));
      return Status();
    })
    .Doc("Sums the gradients over every axis but the last.");

class AlbertBiasAddGradOp : public OpKernel {
 public:
  explicit AlbertBiasAddGradOp(OpKernelConstruction* context)
      : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& gradients = context->input(0);
    OP_REQUIRES(context, gradients.dims() >= 1,
                tensorflow::errors::InvalidArgument(
                    "AlbertBiasAddGrad needs gradients of rank >= 1"));
    const int64_t width = gradients.dim_size(gradients.dims() - 1);
    const int64_t rows = width ? gradients.NumElements() / width : 0;
    Tensor* bias_backprop = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({width}),
                                                     &bias_backprop));
    const float* upstream = gradients.flat<float>().data();
    const int64_t num_blocks =
        std::max<int64_t>(1, std::min<int64_t>(rows, 64));
    std::vector<float> partial(num_blocks * width, 0.0f);
    auto sum_blocks = [&](int64_t first_block, int64_t last_block) {
      for (int64_t block = first_block; block < last_block; ++block) {
        MutableRow sum(partial.data() + block * width, width);
        for (int64_t r = BlockStart(rows, block, num_blocks);
             r < BlockStart(rows, block + 1, num_blocks); ++r) {
          sum += Row(upstream + r * width, width);
        }
      }
    };
    ParallelFor(context, num_blocks, 2 * width * rows / num_blocks,
                sum_blocks);
    MutableRow total(bias_backprop->flat<float>().data(), width);
    total.setZero();
    for (int64_t block = 0; block < num_blocks; ++block) {
      total += MutableRow(partial.data() + block * width, width);
    }
  }
};

REGISTER_KERNEL_BUILDER(Name("AlbertBiasAddGrad").Device(DEVICE_CPU),
                        AlbertBiasAddGradOp);

// ---------------------------------------------------------------------------
// One LAMB (or AdamW) step for one variable, as lamb_optimizer.py defines it:
//   m' = b1 m + (1 - b1) g,   v' = b2 v + (1 - b2) g^2,
//   u = m' / (sqrt(v') + eps) + wd w,
//   w' = w - lr r u, with r = ||w|| / ||u|| (1 if either is zero) under layer
//   adaptation, else 1.
// The composite is about a dozen passes over each variable and its slots;
// this is two (one without layer adaptation). 1 - b1 and 1 - b2 come as
// attributes, rounded from double as the composite rounds them (0.001f is not
// 1.0f - 0.999f).

REGISTER_OP("AlbertLambUpdate")
    .Input("var: float")
    .Input("m: float")
    .Input("v: float")
    .Input("grad: float")
    .Input("learning_rate: float")
    .Output("next_var: float")
    .Output("next_m: float")
    .Output("next_v: float")
    .Attr("beta_1: float")
    .Attr("beta_2: float")
    .Attr("one_minus_beta_1: float")
    .Attr("one_minus_beta_2: float")
    .Attr("epsilon: float")
    .Attr("weight_decay_rate: float")
    .Attr("layer_adaptation: bool")
    .SetShapeFn([](InferenceContext* context) {
      for (int i = 0; i < 3; ++i) context->set_output(i, context->input(0));
      return Status();
    })
    .Doc("The next values of a variable and its two moments after one step.");

class AlbertLambUpdateOp : public OpKernel {
 public:
  explicit AlbertLambUpdateOp(OpKernelConstruction* context)
      : OpKernel(context) {
    OP_REQUIRES_OK(context, context->GetAttr("beta_1", &beta_1_));
    OP_REQUIRES_OK(context, context->GetAttr("beta_2", &beta_2_));
    OP_REQUIRES_OK(context,
                   context->GetAttr("one_minus_beta_1", &one_minus_beta_1_));
    OP_REQUIRES_OK(context,
                   context->GetAttr("one_minus_beta_2", &one_minus_beta_2_));
    OP_REQUIRES_OK(context, context->GetAttr("epsilon", &epsilon_));
    OP_REQUIRES_OK(context,
                   context->GetAttr("weight_decay_rate", &weight_decay_rate_));
    OP_REQUIRES_OK(context,
                   context->GetAttr("layer_adaptation", &layer_adaptation_));
  }

  void Compute(OpKernelContext* context) override {
    const Tensor& var = context->input(0);
    for (int i = 1; i < 4; ++i) {
      OP_REQUIRES(context, context->input(i).shape() == var.shape(),
                  tensorflow::errors::InvalidArgument(
                      "AlbertLambUpdate: input ", i, " has shape ",
                      context->input(i).shape().DebugString(),
                      ", the variable ", var.shape().DebugString()));
    }
    const Tensor& learning_rate = context->input(4);
    OP_REQUIRES(context, learning_rate.NumElements() == 1,
                tensorflow::errors::InvalidArgument(
                    "AlbertLambUpdate: the learning rate must be a scalar"));
    Tensor *next_var = nullptr, *next_m = nullptr, *next_v = nullptr;
    OP_REQUIRES_OK(context,
                   context->allocate_output(0, var.shape(), &next_var));
    OP_REQUIRES_OK(context, context->forward_input_or_allocate_output(
                                {3}, 1, var.shape(), &next_m));
    OP_REQUIRES_OK(context, context->allocate_output(2, var.shape(), &next_v));
    const int64_t size = var.NumElements();
    const float* w = var.flat<float>().data();
    const float* m = context->input(1).flat<float>().data();
    const float* v = context->input(2).flat<float>().data();
    const float* g = context->input(3).flat<float>().data();
    float* w_out = next_var->flat<float>().data();
    float* m_out = next_m->flat<float>().data();
    float* v_out = next_v->flat<float>().data();
    const float lr = learning_rate.flat<float>()(0);

    // Pass 1: the moments and the update u (kept in w_out), with each
    // block's sums of w^2 and u^2 for the norms.
    const int64_t num_blocks = std::max<int64_t>(1, std::min<int64_t>(
        64, size / 4096));
    std::vector<double> squares(2 * num_blocks, 0.0);
    const float b1 = beta_1_, b2 = beta_2_, c1 = one_minus_beta_1_,
                c2 = one_minus_beta_2_, eps = epsilon_, wd = weight_decay_rate_;
    const bool adapt = layer_adaptation_;
    auto moments_and_update = [&](int64_t first_block, int64_t last_block) {
      for (int64_t block = first_block; block < last_block; ++block) {
        const int64_t begin = BlockStart(size, block, num_blocks);
        const int64_t n = BlockStart(size, block + 1, num_blocks) - begin;
        Row weight(w + begin, n), grad(g + begin, n);
        MutableRow m_next(m_out + begin, n), v_next(v_out + begin, n),
            update(w_out + begin, n);
        // m_out may alias g (forwarded input): g is read before it is written.
        v_next = b2 * Row(v + begin, n) + c2 * grad.square();
        m_next = b1 * Row(m + begin, n) + c1 * grad;
        update = m_next / (v_next.sqrt() + eps) + wd * weight;
        if (adapt) {
          squares[2 * block] = weight.cast<double>().square().sum();
          squares[2 * block + 1] = update.cast<double>().square().sum();
        } else {
          update = weight - lr * update;
        }
      }
    };
    ParallelFor(context, num_blocks, 20 * size / num_blocks,
                moments_and_update);
    if (!adapt) return;

    // Pass 2: w' = w - lr * r * u.
    double w_squares = 0.0, u_squares = 0.0;
    for (int64_t block = 0; block < num_blocks; ++block) {
      w_squares += squares[2 * block];
      u_squares += squares[2 * block + 1];
    }
    const float ratio = (w_squares > 0.0 && u_squares > 0.0)
        ? static_cast<float>(std::sqrt(w_squares / u_squares)) : 1.0f;
    const float step = lr * ratio;
    auto apply = [&](int64_t first_block, int64_t last_block) {
      for (int64_t block = first_block; block < last_block; ++block) {
        const int64_t begin = BlockStart(size, block, num_blocks);
        const int64_t n = BlockStart(size, block + 1, num_blocks) - begin;
        MutableRow update(w_out + begin, n);
        update = Row(w + begin, n) - step * update;
      }
    };
    ParallelFor(context, num_blocks, 3 * size / num_blocks, apply);
  }

 private:
  float beta_1_, beta_2_, one_minus_beta_1_, one_minus_beta_2_, epsilon_,
      weight_decay_rate_;
  bool layer_adaptation_;
};

REGISTER_KERNEL_BUILDER(Name("AlbertLambUpdate").Device(DEVICE_CPU),
                        AlbertLambUpdateOp);

}  // namespace
