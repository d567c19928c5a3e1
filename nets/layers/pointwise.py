"""A 1x1 convolution of a 1x1 feature map, computed as the matmul it is.

The logits of a ResNet are a 1x1 conv on the globally pooled [N, 1, 1, C]
features (Slim's checkpoint layout, weights [1, 1, C, K]). oneDNN runs that
shape as a convolution far below matmul speed. Measured on the 2-core
benchmark machine, C=2048, K=1000, alone: forward 7.2 ms at batch 8 and
20.6 ms at batch 32 as a conv, 1.2 / 2.0 ms as a matmul (forward and
backward 19.2 / 51.6 ms vs 3.3 / 6.0 ms); inside ResNet-50 at batch 32
(`benchmarks.profile_model`, a busy machine): tf_slim's fused logits conv
13.8 ms, ours 2.0 ms. End to end that is 1-3% of a forward step, below the
noise of the shared machine's side-by-side ratios. Every style's conv2d takes
this path when `is_single_pixel_pointwise` holds; the variables stay exactly
the conv's, and the values differ from the conv's only by float rounding (the
same sums in another order, ~1e-6 relative).
"""
from runtime.tf_compat import tf


def _pair(value):
  return list(value) if isinstance(value, (list, tuple)) else [value, value]


def is_single_pixel_pointwise(inputs, kernel_size, stride=1, rate=1):
  """Whether a conv of `inputs` is a matmul: 1x1 kernel on a static 1x1 map."""
  shape = getattr(inputs, 'shape', None)
  if shape is None or shape.rank != 4:
    return False
  height, width = shape.as_list()[1:3]
  return (height == 1 and width == 1 and _pair(kernel_size) == [1, 1] and
          _pair(stride) == [1, 1] and _pair(rate) == [1, 1])


def conv(inputs, weights, biases=None):
  """`conv2d(inputs, weights)` (+ `biases`) for a [N,1,1,C] input, 1x1 kernel.

  Args:
    inputs: [N, 1, 1, C].
    weights: [1, 1, C, K] (HWIO).
    biases: optional [K], added before the result is reshaped back (so
      grappler fuses MatMul + BiasAdd).

  Returns:
    [N, 1, 1, K].
  """
  depth_in, depth_out = weights.shape.as_list()[2:]
  with tf.name_scope('pointwise'):
    outputs = tf.matmul(tf.reshape(inputs, [-1, depth_in]),
                        tf.reshape(weights, [depth_in, depth_out]))
    if biases is not None:
      outputs = tf.nn.bias_add(outputs, biases)
    return tf.reshape(outputs, [-1, 1, 1, depth_out])
