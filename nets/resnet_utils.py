"""Style-free building blocks of ResNets, with the API of Slim's `resnet_utils`.

Code written against `nets.resnet_utils` of tensorflow/models keeps working:
`Block`, `subsample`, `conv2d_same`, `stack_blocks_dense` and
`resnet_arg_scope` have the same arguments and meaning. They run in whichever
layer style the enclosing arg_scope selects (Slim's by default).

Example:

    from nets import resnet_utils, resnet_v1
    with slim.arg_scope(resnet_utils.resnet_arg_scope(style='raw')):
      net = resnet_utils.conv2d_same(images, 64, 7, stride=2, scope='conv1')
"""
import collections

from nets import layers
from nets import topology
from runtime.tf_compat import slim, tf


class Block(collections.namedtuple('Block', ['scope', 'unit_fn', 'args'])):
  """A ResNet block: a scope name, a unit function and one kwargs dict per unit.

  `unit_fn(net, **args[i])` builds unit i under `<scope>/unit_<i+1>`.
  """


def subsample(inputs, factor, scope=None):
  """Subsamples by `factor` with a 1x1 max pool (no variables); 1 is a no-op."""
  if factor == 1:
    return inputs
  return layers.max_pool2d(inputs, [1, 1], stride=factor, padding='VALID',
                           scope=scope)


def fixed_padding(inputs, kernel_size, rate=1):
  """Pads height and width as a strided 'SAME' conv of `kernel_size` would.

  The effective kernel of an atrous conv is `k + (k - 1) * (rate - 1)`; the
  padding is `(k_eff - 1) // 2` before and the rest after, independent of the
  input size, so features stay aligned whatever the image size.
  """
  effective = kernel_size + (kernel_size - 1) * (rate - 1)
  total = effective - 1
  before = total // 2
  return tf.pad(inputs, [[0, 0], [before, total - before],
                         [before, total - before], [0, 0]])


@slim.add_arg_scope
def conv2d_same(inputs, num_outputs, kernel_size, stride, rate=1, scope=None,
                groups=1):
  """A conv with 'SAME' padding whose output does not depend on input parity.

  Stride 1 uses 'SAME'; a larger stride pads explicitly and symmetrically
  (`fixed_padding`) and then convolves 'VALID', as Slim's ResNets do (and
  torch's `padding=k // 2` for odd k). `groups` as `layers.conv2d`.
  """
  if stride == 1:
    return layers.conv2d(inputs, num_outputs, kernel_size, stride=1, rate=rate,
                         padding='SAME', scope=scope, groups=groups)
  return layers.conv2d(fixed_padding(inputs, kernel_size, rate), num_outputs,
                       kernel_size, stride=stride, rate=rate, padding='VALID',
                       scope=scope, groups=groups)


@slim.add_arg_scope
def stack_blocks_dense(net, blocks, output_stride=None,
                       store_non_strided_activations=False,
                       outputs_collections=None):
  """Stacks ResNet blocks, optionally at a denser output stride.

  Args:
    net: [batch, height, width, channels] tensor.
    blocks: list of `Block`.
    output_stride: None for the nominal stride; otherwise the wanted ratio of
      input to output resolution. Once the running stride reaches it, later
      units use stride 1 and atrous convolution with a growing rate, so the
      features are those of the nominal network, computed more densely.
    store_non_strided_activations: move each block's last stride to after the
      block, so the block's end point is collected before subsampling.
    outputs_collections: collection that receives each block's output.

  Returns:
    The output tensor of the last block.

  Raises:
    ValueError: if `output_stride` cannot be reached with the blocks' strides.
  """
  current_stride = 1
  rate = 1

  def check_reachable():
    if output_stride is not None and current_stride > output_stride:
      raise ValueError('The target output_stride cannot be reached.')

  for block in blocks:
    with tf.compat.v1.variable_scope(block.scope, 'block', [net]) as sc:
      block_stride = 1
      for i, unit in enumerate(block.args):
        if store_non_strided_activations and i == len(block.args) - 1:
          block_stride = unit.get('stride', 1)
          unit = dict(unit, stride=1)
        with tf.compat.v1.variable_scope('unit_%d' % (i + 1), values=[net]):
          if output_stride is not None and current_stride == output_stride:
            stride = unit.get('stride', 1)
            if unit.get('stride_conv') == 'conv1':
              # The unit's 3x3 follows its (now unstrided) first 1x1, so it
              # sees the denser map already: its rate grows here.
              rate *= stride
              stride = 1
            net = block.unit_fn(net, rate=rate, **dict(unit, stride=1))
            rate *= stride
          else:
            net = block.unit_fn(net, rate=1, **unit)
            current_stride *= unit.get('stride', 1)
            check_reachable()
      net = slim.utils.collect_named_outputs(outputs_collections, sc.name, net)
      if output_stride is not None and current_stride == output_stride:
        rate *= block_stride
      else:
        net = subsample(net, block_stride)
        current_stride *= block_stride
        check_reachable()
  if output_stride is not None and current_stride != output_stride:
    raise ValueError('The target output_stride cannot be reached.')
  return net


def resnet_arg_scope(weight_decay=0.0001,
                     batch_norm_decay=0.997,
                     batch_norm_epsilon=1e-5,
                     batch_norm_scale=True,
                     activation_fn=tf.nn.relu,
                     use_batch_norm=True,
                     style=layers.DEFAULT_STYLE,
                     fold_batch_norm=True):
  """The ResNet arg scope (Slim's defaults) in the layer style `style`.

  Example:

    with slim.arg_scope(resnet_arg_scope(style='keras')):
      logits, end_points = resnet_v1.resnet_v1_50(images, 1000,
                                                  is_training=False)

  Returns:
    An arg_scope dict for `slim.arg_scope`.
  """
  return layers.arg_scope(style=style,
                          weight_decay=weight_decay,
                          batch_norm_decay=batch_norm_decay,
                          batch_norm_epsilon=batch_norm_epsilon,
                          batch_norm_scale=batch_norm_scale,
                          activation_fn=activation_fn,
                          use_batch_norm=use_batch_norm,
                          fold_batch_norm=fold_batch_norm)


def _lowest(dtype):
  return dtype.min if dtype.is_floating or dtype.is_integer else None


def stem_pool(inputs, kind, scope='pool1'):
  """The stem's 3x3/2 max pool of `kind` ('same', 'ceil', 'pad1').

  The padded variants pad with the dtype's lowest value and pool `VALID`, so
  a padded pixel never wins (exactly Caffe's and torch's pools).

  Args:
    inputs: [N, H, W, C].
    kind: one of `topology.STEM_POOLS`.
    scope: the pool's scope.

  Returns:
    The pooled tensor.
  """
  if kind == 'same':
    return layers.max_pool2d(inputs, [3, 3], stride=2, padding='SAME',
                             scope=scope)
  if kind not in topology.STEM_POOLS:
    raise ValueError('Unknown stem pool %r; valid: %s' %
                     (kind, ', '.join(topology.STEM_POOLS)))
  if kind == 'pad1':
    height_pad = width_pad = (1, 1)
  else:  # ceil: (H - 3) odd leaves one pixel that a last window covers.
    height_pad, width_pad = (_ceil_mode_padding(inputs, axis)
                             for axis in (1, 2))
  padded = tf.pad(inputs, [[0, 0], list(height_pad), list(width_pad), [0, 0]],
                  constant_values=_lowest(inputs.dtype.base_dtype))
  return layers.max_pool2d(padded, [3, 3], stride=2, padding='VALID',
                           scope=scope)


def _ceil_mode_padding(inputs, axis):
  """(0, after) for a 3x3/2 ceil-mode pool: after = 1 if the size is even."""
  size = inputs.shape[axis]
  if size is not None:
    return (0, 1 - size % 2)
  size = tf.shape(inputs)[axis]
  return (0, 1 - size % 2)
