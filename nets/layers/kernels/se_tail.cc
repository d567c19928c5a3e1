// The tail of a squeeze-and-excitation residual unit in one pass, and its
// gradient in one pass (CPU).
//
//   SlimSenetScaleAddRelu:      y = relu(x * gates[n, c] + shortcut)
//   SlimSenetScaleAddReluGrad:  d_shortcut = dy * (y > 0),
//                               d_gates[n, c] = sum over h, w of d_shortcut * x
//   SlimSenetChannelAffine:     z = x * scale[n, c] + shift[n, c]
//
// x, shortcut, y, dy: [N, H, W, C] (NHWC); gates, scale, shift: [N, C].
// TensorFlow writes the first as Mul, AddV2 and Relu (three full-size passes
// and two intermediate tensors) and its gradient as ReluGrad, Mul, Mul and a
// sum over H, W. The gradient w.r.t. x is d_shortcut * gates plus whatever
// the caller adds (the squeeze's gradient, known only once d_gates has gone
// back through the excitation): SlimSenetChannelAffine(d_shortcut, gates, ...).
//
// nets/layers/se_tail.py compiles this file against the installed
// TensorFlow, loads it and registers the gradient; see docs/performance.md.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/util/work_sharder.h"

namespace slim_senet {
namespace {

using ::tensorflow::DEVICE_CPU;
using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;
using ::tensorflow::shape_inference::DimensionHandle;
using ::tensorflow::shape_inference::InferenceContext;
using ::tensorflow::shape_inference::ShapeHandle;

// Elements a shard should cover at least, so that scheduling stays cheap.
constexpr int64_t kMinShardElements = 1 << 15;

// Checks an [N, H, W, C] input and an [N, C] one against it.
absl::Status MergeMapAndChannels(InferenceContext* c, int map, int channels,
                                 ShapeHandle* out) {
  ShapeHandle x;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(map), 4, &x));
  ShapeHandle g;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(channels), 2, &g));
  DimensionHandle n;
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(x, 0), c->Dim(g, 0), &n));
  DimensionHandle ch;
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(x, 3), c->Dim(g, 1), &ch));
  TF_RETURN_IF_ERROR(c->ReplaceDim(x, 0, n, &x));
  TF_RETURN_IF_ERROR(c->ReplaceDim(x, 3, ch, &x));
  *out = x;
  return absl::OkStatus();
}

REGISTER_OP("SlimSenetScaleAddRelu")
    .Input("x: T")
    .Input("gates: T")
    .Input("shortcut: T")
    .Output("y: T")
    .Attr("T: {float, double}")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle x;
      TF_RETURN_IF_ERROR(MergeMapAndChannels(c, 0, 1, &x));
      TF_RETURN_IF_ERROR(c->Merge(x, c->input(2), &x));
      c->set_output(0, x);
      return absl::OkStatus();
    })
    .Doc("relu(x * gates[n, c] + shortcut), NHWC, in one pass.");

REGISTER_OP("SlimSenetScaleAddReluGrad")
    .Input("dy: T")
    .Input("y: T")
    .Input("x: T")
    .Input("gates: T")
    .Output("d_shortcut: T")
    .Output("d_gates: T")
    .Attr("T: {float, double}")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle x;
      TF_RETURN_IF_ERROR(MergeMapAndChannels(c, 2, 3, &x));
      TF_RETURN_IF_ERROR(c->Merge(x, c->input(0), &x));
      TF_RETURN_IF_ERROR(c->Merge(x, c->input(1), &x));
      c->set_output(0, x);
      c->set_output(1, c->Matrix(c->Dim(x, 0), c->Dim(x, 3)));
      return absl::OkStatus();
    })
    .Doc("Gradients of SlimSenetScaleAddRelu w.r.t. shortcut and gates.");

REGISTER_OP("SlimSenetChannelAffine")
    .Input("x: T")
    .Input("scale: T")
    .Input("shift: T")
    .Output("z: T")
    .Attr("T: {float, double}")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle x;
      TF_RETURN_IF_ERROR(MergeMapAndChannels(c, 0, 1, &x));
      ShapeHandle unused;
      TF_RETURN_IF_ERROR(MergeMapAndChannels(c, 0, 2, &unused));
      c->set_output(0, x);
      return absl::OkStatus();
    })
    .Doc("x * scale[n, c] + shift[n, c], NHWC, in one pass.");

// Sizes of an [N, H, W, C] map after checking it against an [N, C] tensor.
struct MapDims {
  int64_t batch = 0;
  int64_t area = 0;  // H * W
  int64_t channels = 0;
};

absl::Status CheckMapAndChannels(const Tensor& map, const Tensor& per_channel,
                                 const char* name, MapDims* dims) {
  if (map.dims() != 4) {
    return absl::InvalidArgumentError(
        "expected an [N, H, W, C] tensor, got shape " +
        map.shape().DebugString());
  }
  if (per_channel.dims() != 2 ||
      per_channel.dim_size(0) != map.dim_size(0) ||
      per_channel.dim_size(1) != map.dim_size(3)) {
    return absl::InvalidArgumentError(
        std::string(name) + " must be [N, C] = [" +
        std::to_string(map.dim_size(0)) + ", " +
        std::to_string(map.dim_size(3)) + "], got shape " +
        per_channel.shape().DebugString());
  }
  dims->batch = map.dim_size(0);
  dims->area = map.dim_size(1) * map.dim_size(2);
  dims->channels = map.dim_size(3);
  return absl::OkStatus();
}

absl::Status CheckSameShape(const Tensor& a, const Tensor& b,
                            const char* name) {
  if (a.shape() != b.shape()) {
    return absl::InvalidArgumentError(
        std::string(name) + " must have shape " + a.shape().DebugString() +
        ", got " + b.shape().DebugString());
  }
  return absl::OkStatus();
}

// Runs fn(first_row, last_row) over the N * H * W rows on TF's CPU threads.
template <typename Fn>
void ForEachRowRange(OpKernelContext* context, int64_t rows, int64_t channels,
                     const Fn& fn) {
  const auto& threads = *context->device()->tensorflow_cpu_worker_threads();
  ::tensorflow::Shard(threads.num_threads, threads.workers, rows,
                      /*cost_per_unit=*/std::max<int64_t>(channels, 1) * 4,
                      fn);
}

// One row of the tail: y = relu(x * g + s).
template <typename T>
inline void ScaleAddReluRow(const T* __restrict__ x, const T* __restrict__ g,
                            const T* __restrict__ s, T* __restrict__ y,
                            int64_t channels) {
  for (int64_t c = 0; c < channels; ++c) {
    const T v = x[c] * g[c] + s[c];
    y[c] = v > T(0) ? v : T(0);
  }
}

// One row of z = x * a + b.
template <typename T>
inline void AffineRow(const T* __restrict__ x, const T* __restrict__ a,
                      const T* __restrict__ b, T* __restrict__ z,
                      int64_t channels) {
  for (int64_t c = 0; c < channels; ++c) z[c] = x[c] * a[c] + b[c];
}

// One row of the gradient: ds = dy * (y > 0) stored, sum += ds * x.
// __restrict__ (the rows never overlap) and the unconditional load of dy let
// the compiler vectorise the select; a branch on the sign of y mispredicts
// half the time and keeps the loop scalar.
template <typename T>
inline void MaskAndAccumulate(const T* __restrict__ dy, const T* __restrict__ y,
                              const T* __restrict__ x, T* __restrict__ ds,
                              T* __restrict__ sum, int64_t channels) {
  for (int64_t c = 0; c < channels; ++c) {
    const T d = dy[c];
    const T masked = y[c] > T(0) ? d : T(0);
    ds[c] = masked;
    sum[c] += masked * x[c];
  }
}

template <typename T>
class ScaleAddReluOp : public OpKernel {
 public:
  explicit ScaleAddReluOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& x = context->input(0);
    const Tensor& gates = context->input(1);
    const Tensor& shortcut = context->input(2);
    MapDims d;
    OP_REQUIRES_OK(context, CheckMapAndChannels(x, gates, "gates", &d));
    OP_REQUIRES_OK(context, CheckSameShape(x, shortcut, "shortcut"));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(context, context->forward_input_or_allocate_output(
                                {2, 0}, 0, x.shape(), &y));
    const T* xs = x.flat<T>().data();
    const T* gs = gates.flat<T>().data();
    const T* ss = shortcut.flat<T>().data();
    T* ys = y->flat<T>().data();
    const int64_t area = d.area, channels = d.channels;
    ForEachRowRange(context, d.batch * area, channels,
                    [=](int64_t first, int64_t last) {
      for (int64_t row = first; row < last; ++row) {
        const int64_t offset = row * channels;
        ScaleAddReluRow(xs + offset, gs + (row / area) * channels,
                        ss + offset, ys + offset, channels);
      }
    });
  }
};

template <typename T>
class ScaleAddReluGradOp : public OpKernel {
 public:
  explicit ScaleAddReluGradOp(OpKernelConstruction* context)
      : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& dy = context->input(0);
    const Tensor& y = context->input(1);
    const Tensor& x = context->input(2);
    const Tensor& gates = context->input(3);
    MapDims d;
    OP_REQUIRES_OK(context, CheckMapAndChannels(x, gates, "gates", &d));
    OP_REQUIRES_OK(context, CheckSameShape(x, dy, "dy"));
    OP_REQUIRES_OK(context, CheckSameShape(x, y, "y"));
    Tensor* d_shortcut = nullptr;
    OP_REQUIRES_OK(context, context->forward_input_or_allocate_output(
                                {0}, 0, x.shape(), &d_shortcut));
    Tensor* d_gates = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(1, gates.shape(),
                                                     &d_gates));
    const int64_t area = d.area, channels = d.channels, batch = d.batch;
    // Each sample's rows split into blocks; a block's partial sums over its
    // rows go to `partial`, added up per sample at the end (no atomics).
    const int64_t rows_per_block = std::max<int64_t>(
        1, kMinShardElements / std::max<int64_t>(channels, 1));
    const int64_t blocks = (area + rows_per_block - 1) / rows_per_block;
    std::vector<T> partial(static_cast<size_t>(batch * blocks * channels));
    const T* dys = dy.flat<T>().data();
    const T* ys = y.flat<T>().data();
    const T* xs = x.flat<T>().data();
    T* dss = d_shortcut->flat<T>().data();
    T* parts = partial.data();
    const auto& threads = *context->device()->tensorflow_cpu_worker_threads();
    ::tensorflow::Shard(
        threads.num_threads, threads.workers, batch * blocks,
        /*cost_per_unit=*/rows_per_block * channels * 6,
        [=](int64_t first, int64_t last) {
          for (int64_t unit = first; unit < last; ++unit) {
            const int64_t n = unit / blocks, block = unit % blocks;
            const int64_t row_begin = n * area + block * rows_per_block;
            const int64_t row_end =
                std::min(row_begin + rows_per_block, (n + 1) * area);
            T* sum = parts + unit * channels;
            std::fill(sum, sum + channels, T(0));
            for (int64_t row = row_begin; row < row_end; ++row) {
              const int64_t offset = row * channels;
              MaskAndAccumulate(dys + offset, ys + offset, xs + offset,
                                dss + offset, sum, channels);
            }
          }
        });
    T* dg = d_gates->flat<T>().data();
    for (int64_t n = 0; n < batch; ++n) {
      T* out = dg + n * channels;
      std::fill(out, out + channels, T(0));
      for (int64_t block = 0; block < blocks; ++block) {
        const T* sum = parts + (n * blocks + block) * channels;
        for (int64_t c = 0; c < channels; ++c) out[c] += sum[c];
      }
    }
  }
};

template <typename T>
class ChannelAffineOp : public OpKernel {
 public:
  explicit ChannelAffineOp(OpKernelConstruction* context)
      : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& x = context->input(0);
    const Tensor& scale = context->input(1);
    const Tensor& shift = context->input(2);
    MapDims d;
    OP_REQUIRES_OK(context, CheckMapAndChannels(x, scale, "scale", &d));
    OP_REQUIRES_OK(context, CheckMapAndChannels(x, shift, "shift", &d));
    Tensor* z = nullptr;
    OP_REQUIRES_OK(context, context->forward_input_or_allocate_output(
                                {0}, 0, x.shape(), &z));
    const T* xs = x.flat<T>().data();
    const T* as = scale.flat<T>().data();
    const T* bs = shift.flat<T>().data();
    T* zs = z->flat<T>().data();
    const int64_t area = d.area, channels = d.channels;
    ForEachRowRange(context, d.batch * area, channels,
                    [=](int64_t first, int64_t last) {
      for (int64_t row = first; row < last; ++row) {
        const int64_t offset = row * channels;
        const int64_t sample = (row / area) * channels;
        AffineRow(xs + offset, as + sample, bs + sample, zs + offset,
                  channels);
      }
    });
  }
};

#define REGISTER_KERNELS(T)                                                 \
  REGISTER_KERNEL_BUILDER(                                                  \
      Name("SlimSenetScaleAddRelu").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
      ScaleAddReluOp<T>);                                                   \
  REGISTER_KERNEL_BUILDER(Name("SlimSenetScaleAddReluGrad")                 \
                              .Device(DEVICE_CPU)                           \
                              .TypeConstraint<T>("T"),                      \
                          ScaleAddReluGradOp<T>);                           \
  REGISTER_KERNEL_BUILDER(                                                  \
      Name("SlimSenetChannelAffine").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
      ChannelAffineOp<T>);

REGISTER_KERNELS(float);
REGISTER_KERNELS(double);

#undef REGISTER_KERNELS

}  // namespace
}  // namespace slim_senet
