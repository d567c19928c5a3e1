"""Inference batch norm folded into the convolution in front of it.

In inference, batch norm is a per-channel affine map of the conv's output:
`conv(x, W) * s + b` with `s = gamma / sqrt(moving_variance + epsilon)` and
`b = beta - moving_mean * s`, which equals `conv(x, W * s) + b`. Written that
way the graph is Conv2D + BiasAdd, and TF's grappler remapper fuses that,
together with a following residual addition and ReLU, into one oneDNN
convolution (`_FusedConv2D` with fused ops BiasAdd, Add, Relu). After
Conv2D + FusedBatchNorm the fusion stops at the batch norm, so the addition
and the ReLU of every ResNet unit run as two more full passes over its output
(measured: ResNet-50 forward, batch 32 at 224, 5-7% of the step).

`fold()` recognises the ops of a conv -> inference batch norm [-> activation]
chain, whichever layer style built it, and returns the folded equivalent. A
grouped conv (ResNeXt; weights [kh, kw, C / groups, K]) folds the same way:
the scale is per output channel, the weights' last axis. The
variables are untouched (the same checkpoints load; gradients reach the same
variables), values agree with the unfolded chain up to float rounding, and the
unfolded ops stay in the graph unused: a session runs only what its fetches
need, and exported graphs are pruned to their outputs.

Folding is not free in a graph with variables: every step scales the weights
again (a read and a write of each weight). `worth_folding()` says when the
fusion it enables saves more than that: only for a conv + batch norm with no
activation after it (the ones that feed a residual addition; with an
activation, oneDNN already runs conv, batch norm and activation as one op),
and only when the output is large next to the weights. Folding everything
made ResNet-50 forward at batch 1 25% slower than Slim's (the weights
outweigh one image's activations in blocks 3-4).

Example:

    net = slim.conv2d(images, 256, 1, activation_fn=None,
                      normalizer_fn=slim.batch_norm,
                      normalizer_params={'is_training': False})
    if batch_norm_folding.worth_folding(net):
      net = batch_norm_folding.fold(net)
"""
from runtime.tf_compat import tf

_BATCH_NORM_TYPES = frozenset(['FusedBatchNorm', 'FusedBatchNormV2',
                               'FusedBatchNormV3'])

# Unary activations that `fold` re-applies after the folded conv, by op type.
_ACTIVATIONS = {
    'Relu': lambda x, op: tf.nn.relu(x),
    'Relu6': lambda x, op: tf.nn.relu6(x),
    'Elu': lambda x, op: tf.nn.elu(x),
    'Selu': lambda x, op: tf.nn.selu(x),
    'Softplus': lambda x, op: tf.nn.softplus(x),
    'Sigmoid': lambda x, op: tf.sigmoid(x),
    'Tanh': lambda x, op: tf.tanh(x),
    'LeakyRelu': lambda x, op: tf.nn.leaky_relu(x, alpha=op.get_attr('alpha')),
}


def _folding_chain(outputs):
  """(conv op, batch norm op, activation op or None) behind `outputs`."""
  if not isinstance(outputs, tf.Tensor) or tf.executing_eagerly():
    return None
  activation = None
  normalized = outputs
  if outputs.op.type in _ACTIVATIONS and len(outputs.op.inputs) == 1:
    activation = outputs.op
    normalized = activation.inputs[0]
  batch_norm = normalized.op
  if (batch_norm.type not in _BATCH_NORM_TYPES or
      normalized is not batch_norm.outputs[0] or
      batch_norm.get_attr('is_training') or
      batch_norm.get_attr('data_format') != b'NHWC'):
    return None
  conv = batch_norm.inputs[0].op
  if conv.type != 'Conv2D' or conv.get_attr('data_format') != b'NHWC':
    return None
  return conv, batch_norm, activation


# Per step, folding reads and writes each weight once; the fusion it allows
# saves about four passes over the conv's output (AddV2 reads two tensors and
# writes one, ReLU reads and writes one; the fused conv reads the addend).
_WEIGHT_PASSES = 2
_SAVED_OUTPUT_PASSES = 4


def worth_folding(outputs):
  """Whether folding `outputs` (a `fold()`-able chain) should pay per step.

  True for a conv + inference batch norm with no activation whose output,
  counted for one image when the batch size is unknown, has at least half
  as many elements as the conv's weights (see `_SAVED_OUTPUT_PASSES`).
  Unknown output heights or widths count as large.

  Args:
    outputs: a graph tensor.

  Returns:
    bool; False for anything `fold()` would not fold.
  """
  chain = _folding_chain(outputs)
  if chain is None or chain[2] is not None:
    return False
  weights = chain[0].inputs[1].shape
  batch, height, width, depth = outputs.shape.as_list()
  if height is None or width is None or not weights.is_fully_defined():
    return True
  output_elements = (batch or 1) * height * width * depth
  return (_SAVED_OUTPUT_PASSES * output_elements >=
          _WEIGHT_PASSES * weights.num_elements())


def _is_atrous(conv):
  return list(conv.get_attr('dilations')) != [1, 1, 1, 1]


def _conv2d_like(conv, inputs, weights):
  """A conv with the attributes of Conv2D op `conv`, on other weights.

  An atrous conv (dilations > 1) is built as TensorFlow's own
  `tf.nn.convolution` builds it, SpaceToBatchND -> Conv2D -> BatchToSpaceND:
  stock CPU Conv2D kernels (TensorFlow with oneDNN off, the default on
  e.g. AMD CPUs) have no dilations, so a raw dilated Conv2D fails there.
  """
  padding = conv.get_attr('padding').decode()
  strides = list(conv.get_attr('strides'))
  if not _is_atrous(conv):
    return tf.raw_ops.Conv2D(
        input=inputs, filter=weights, strides=strides, padding=padding,
        explicit_paddings=conv.get_attr('explicit_paddings'),
        data_format='NHWC', dilations=conv.get_attr('dilations'))
  if padding == 'EXPLICIT':
    pads = list(conv.get_attr('explicit_paddings'))
    inputs = tf.pad(inputs, [pads[i:i + 2] for i in range(0, 8, 2)])
    padding = 'VALID'
  return tf.nn.convolution(inputs, weights, strides=strides[1:3],
                           padding=padding,
                           dilations=list(conv.get_attr('dilations'))[1:3])


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


def fold(outputs):
  """`outputs` recomputed as conv(x, W * s) + b (+ the same activation).

  Args:
    outputs: a graph tensor, the output of Conv2D -> FusedBatchNorm with
      `is_training=False` (moving statistics), optionally followed by one of
      the unary activations in `_ACTIVATIONS`.

  Returns:
    The folded tensor, or None when `outputs` is not such a chain (training
    batch norm, a matmul or atrous conv, NCHW, ...); it then stays as it is.
  """
  chain = _folding_chain(outputs)
  if chain is None:
    return None
  conv, batch_norm, activation = chain
  if _is_atrous(conv) and list(conv.get_attr('strides')) != [1, 1, 1, 1]:
    return None  # No space_to_batch form (tf.nn.convolution refuses it).
  inputs, weights = conv.inputs
  gamma, beta, mean, variance = batch_norm.inputs[1:5]
  # Absolute (trailing '/'): next to the batch norm, whatever scope the
  # caller is in (Keras layers build under their own).
  with tf.compat.v1.name_scope(batch_norm.name + '_folded/'):
    scale = gamma * tf.math.rsqrt(variance + batch_norm.get_attr('epsilon'))
    bias = beta - mean * scale
    folded = _conv2d_like(conv, inputs,
                          weights * tf.cast(scale, weights.dtype))
    folded = tf.nn.bias_add(folded, tf.cast(bias, folded.dtype))
    if activation is not None:
      folded = _ACTIVATIONS[activation.type](folded, activation)
  return folded
