"""The TensorFlow ops that compute a convolution, chosen in one place.

Every style creates its variables its own way and then calls
`convolution()` for the arithmetic, so the three styles run the same ops:

- a 1x1 conv of a 1x1 map (the logits on globally pooled features) is the
  matmul it is (`nets.layers.pointwise`);
- a grouped conv (`groups` > 1, ResNeXt) is one `Conv2D` with grouped
  filters where TensorFlow has its gradients, else per-group convs
  (`nets.layers.grouped`);
- anything else is `tf.nn.convolution` (atrous rates included).

Biases are added by the same function, so a matmul gets its BiasAdd before
the reshape back to [N, 1, 1, K] (where grappler fuses MatMul + BiasAdd).

Example:

    outputs = conv_ops.convolution(inputs, weights, stride=2,
                                   padding='VALID', biases=biases)
"""
from nets.layers import grouped
from nets.layers import pointwise
from runtime.tf_compat import tf


def convolution(inputs, weights, stride=1, padding='SAME', rate=1, groups=1,
                biases=None):
  """NHWC `inputs` convolved with HWIO `weights` (+ `biases`).

  Args:
    inputs: [N, H, W, C].
    weights: [kh, kw, C / groups, K].
    stride, padding, rate: as `tf.nn.convolution`'s strides, padding and
      dilations (an int or a pair).
    groups: groups of a grouped convolution (1: an ordinary one).
    biases: optional [K].

  Returns:
    [N, H', W', K].
  """
  kernel_size = weights.shape.as_list()[:2]
  if groups == 1 and pointwise.is_single_pixel_pointwise(
      inputs, kernel_size, stride, rate):
    return pointwise.conv(inputs, weights, biases)
  outputs = grouped.convolution(inputs, weights, groups, strides=stride,
                                padding=padding, dilations=rate)
  if biases is not None:
    outputs = tf.nn.bias_add(outputs, biases)
  return outputs
