"""A 1x1 convolution of a 1x1 feature map, computed as the matmul it is.

The logits of a ResNet are a 1x1 conv on the globally pooled [N, 1, 1, C]
features (Slim's checkpoint layout, weights [1, 1, C, K]). oneDNN runs that
shape as a convolution, with a kernel made for large feature maps, several
times slower than the plain matrix product it is, forward and backward (the
README's Performance section has the figures). `nets.layers.conv_ops`, which
every style's conv2d calls, takes this path whenever
`is_single_pixel_pointwise` holds; the variables stay exactly the conv's, and
the values differ from the conv's only by float rounding (the same sums in
another order).
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
