"""Inference batch norm folded into the convolution in front of it.

In inference, batch norm is a per-channel affine map of the conv's output:
`conv(x, W) * s + b` with `s = gamma / sqrt(moving_variance + epsilon)` and
`b = beta - moving_mean * s`, which equals `conv(x, W * s) + b`. Written that
way the graph is Conv2D + BiasAdd, and TF's grappler remapper fuses that,
together with a following residual addition and ReLU, into one oneDNN
convolution (`_FusedConv2D` with fused ops BiasAdd, Add, Relu). After
Conv2D + FusedBatchNorm the fusion stops at the batch norm, so the addition
and the ReLU of every ResNet unit run as two more full passes over its
output.

Folding happens while a network is built: every style's `conv2d` is told
`fold_batch_norm` (by `nets.layers.conv2d`), asks `worth_folding()` before it
builds anything, and then creates its usual variables (`weights`,
`BatchNorm/{gamma,beta,moving_mean,moving_variance}`: the same names,
collections and regularizers, so the same checkpoints load) and emits
`folded_convolution()` instead of conv -> batch norm. The unfolded ops are
never built. Gradients reach the same variables (fine-tuning with a frozen
batch norm trains through the folded ops); the values agree with the
unfolded chain up to float rounding. A training batch norm (batch
statistics, moving-average updates) is never folded.

Folding is not free in a graph with variables: every step scales the weights
again (a read and a write of each weight). `worth_folding()` says when the
fusion it enables saves more than that: only for a conv + batch norm with no
activation after it (the ones that feed a residual addition; with an
activation, oneDNN already runs conv, batch norm and activation as one op),
and only when the output is large next to the weights (for one image, the
weights of ResNet-50's blocks 3-4 outweigh their activations).

Example:

    if batch_norm_folding.worth_folding(inputs, weights.shape, stride=1):
      outputs = batch_norm_folding.folded_convolution(
          inputs, weights, gamma, beta, moving_mean, moving_variance,
          epsilon=1e-5)
"""
from nets.layers import conv_ops
from runtime.tf_compat import tf

# Per step, folding reads and writes each weight once; the fusion it allows
# saves about four passes over the conv's output (AddV2 reads two tensors and
# writes one, ReLU reads and writes one; the fused conv reads the addend).
_WEIGHT_PASSES = 2
_SAVED_OUTPUT_PASSES = 4


def _pair(value):
  return list(value) if isinstance(value, (list, tuple)) else [value, value]


def _output_size(size, kernel, stride, rate, padding):
  """One spatial output size of a conv, as TensorFlow computes it."""
  if size is None:
    return None
  if padding.upper() == 'SAME':
    return -(-size // stride)
  effective = kernel + (kernel - 1) * (rate - 1)
  return max(0, -(-(size - effective + 1) // stride))


def worth_folding(inputs, weights_shape, stride=1, rate=1, padding='SAME',
                  activation_fn=None):
  """Whether folding a conv's inference batch norm should pay per step.

  True for a conv + batch norm with no activation whose output, counted for
  one image when the batch size is unknown, has at least half as many
  elements as the conv's weights (see `_SAVED_OUTPUT_PASSES`). Unknown output
  heights or widths count as large.

  Args:
    inputs: the conv's [N, H, W, C] input (a graph tensor).
    weights_shape: the conv's HWIO weights shape, [kh, kw, C / groups, K].
    stride, rate, padding: the conv's.
    activation_fn: the activation after the batch norm, or None.

  Returns:
    bool.
  """
  if activation_fn is not None:
    return False
  weights_shape = tf.TensorShape(weights_shape)
  shape = inputs.shape
  if shape.rank != 4 or not weights_shape.is_fully_defined():
    return shape.rank == 4
  batch, height, width = shape.as_list()[:3]
  kernel = weights_shape.as_list()
  height, width = (
      _output_size(size, k, s, r, padding) for size, k, s, r in zip(
          (height, width), kernel[:2], _pair(stride), _pair(rate)))
  if height is None or width is None:
    return True
  output_elements = (batch or 1) * height * width * kernel[3]
  return (_SAVED_OUTPUT_PASSES * output_elements >=
          _WEIGHT_PASSES * weights_shape.num_elements())


def folded_scale_and_bias(gamma, beta, moving_mean, moving_variance, epsilon):
  """(s, b) of inference batch norm as `x * s + b`; None gamma/beta: 1/0."""
  scale = tf.math.rsqrt(moving_variance + epsilon)
  if gamma is not None:
    scale = gamma * scale
  if beta is None:
    return scale, -moving_mean * scale
  return scale, beta - moving_mean * scale


def folded_convolution(inputs, weights, gamma, beta, moving_mean,
                       moving_variance, epsilon, stride=1, padding='SAME',
                       rate=1, groups=1):
  """conv(inputs, weights * s) + b: conv -> inference batch norm, folded.

  Args:
    inputs: [N, H, W, C].
    weights: [kh, kw, C / groups, K].
    gamma, beta: the batch norm's [K] scale and offset (None: 1 and 0).
    moving_mean, moving_variance: its [K] moving statistics.
    epsilon: added to the variance.
    stride, padding, rate, groups: the conv's (`conv_ops.convolution`).

  Returns:
    [N, H', W', K], the batch norm's output up to float rounding.
  """
  with tf.name_scope('BatchNorm_folded'):
    scale, bias = folded_scale_and_bias(gamma, beta, moving_mean,
                                        moving_variance, epsilon)
    weights = weights * tf.cast(scale, weights.dtype)
    bias = tf.cast(bias, inputs.dtype)
  return conv_ops.convolution(inputs, weights, stride=stride, padding=padding,
                              rate=rate, groups=groups, biases=bias)


def is_inference(is_training):
  """Whether a batch norm's `is_training` is a plain false (not a tensor)."""
  return (is_training is not None and not tf.is_tensor(is_training) and
          not isinstance(is_training, tf.Variable) and not is_training)


def onednn_enabled():
  """Whether TensorFlow runs its oneDNN CPU ops in this process.

  TensorFlow's own runtime answer (build, CPU and TF_ENABLE_ONEDNN_OPTS).
  Grappler's fusion of a folded conv with the residual addition and ReLU
  (`_FusedConv2D` with Add) exists only then; folding is still correct,
  and still removes the batch norm, without it.
  """
  # pylint: disable=g-import-not-at-top,g-direct-tensorflow-import
  from tensorflow.python.util import _pywrap_util_port
  return bool(_pywrap_util_port.IsMklEnabled())
