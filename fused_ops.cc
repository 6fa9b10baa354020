// Fused CPU kernels for ALBERT's tanh-approximated GELU and its LayerNorm,
// each with its gradient.
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
    auto dy = gradients.flat<float>();
    auto x = features.flat<float>();
    auto x_squared = x * x;
    auto t = ((x + x * x_squared * kCubicCoefficient) * kSqrtTwoOverPi).tanh();
    // d/dx [x (1 + t) / 2] = (1 + t) / 2 + x (1 - t^2) u' / 2,
    // with u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
    auto inner_derivative =
        (x_squared * (3.0f * kCubicCoefficient) + 1.0f) * kSqrtTwoOverPi;
    backprops->flat<float>().device(context->eigen_cpu_device()) =
        dy * ((t + 1.0f) + x * (1.0f - t * t) * inner_derivative) * 0.5f;
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
    context->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(
        rows, 8 * width, normalize_rows);
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
        for (int64_t r = rows * block / num_blocks;
             r < rows * (block + 1) / num_blocks; ++r) {
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
    context->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(
        num_blocks, cost_per_block, backprop_blocks);
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
    context->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(
        rows, 4 * width, backprop_rows);
  }
};

REGISTER_KERNEL_BUILDER(Name("AlbertSoftmaxGrad").Device(DEVICE_CPU),
                        AlbertSoftmaxGradOp);

}  // namespace
