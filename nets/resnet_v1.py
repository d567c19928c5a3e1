"""ResNet v1 and SE-ResNet v1, written once over the layer vocabulary.

The public API is that of Slim's `nets.resnet_v1` (tensorflow/models), so code
written against it keeps working: `bottleneck`, `resnet_v1`, `resnet_v1_block`,
`resnet_v1_50/101/152/200`, `resnet_arg_scope`. Variables, shapes and end
points follow Slim's checkpoints exactly (`resnet_v1_50.ckpt` loads as is).

SE-ResNet v1 (Hu et al., "Squeeze-and-Excitation Networks") is the same
network with a squeeze-and-excitation block in the bottleneck units: pass a
`SqueezeExcitation` spec to `resnet_v1_block`, or call `se_resnet_v1_50` etc.

Every builder takes `topology` (`nets.topology`): 'slim' (the default here,
Slim's graphs unchanged), 'caffe' (the SENet authors' SE-ResNets, the papers'
multiply-adds), 'caffe_resnext' or 'torch' (torchvision / timm): the same
variables, arranged to stride and pool where those do. ResNeXt's grouped
units (`nets.resnext`) are the same `bottleneck` with `groups`.

Example:

    from nets import resnet_v1
    with slim.arg_scope(resnet_v1.resnet_arg_scope(style='raw')):
      logits, end_points = resnet_v1.se_resnet_v1_50(
          images, num_classes=1000, is_training=False, se_ratio=16,
          topology='caffe')
"""
import collections

from nets import layers
from nets import options
from nets import resnet_utils
from nets import topology as topology_lib
from runtime.tf_compat import slim, tf

v1 = tf.compat.v1

resnet_arg_scope = resnet_utils.resnet_arg_scope

# Units per block (block1..block4) of each registered depth. 14 and 26 are
# small bottleneck ResNets (as timm's resnet14t/resnet26) for demos and tests.
UNITS_PER_BLOCK = {
    14: (1, 1, 1, 1),
    26: (2, 2, 2, 2),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
    200: (3, 24, 36, 3),
}
BASE_DEPTHS = (64, 128, 256, 512)
BLOCK_STRIDES = (2, 2, 2, 1)


class SqueezeExcitation(collections.namedtuple(
    'SqueezeExcitation', ['ratio', 'use_biases', 'placement', 'fc2_bias_init'])):
  """What a unit's squeeze-and-excitation block looks like (data, no code).

  Attributes:
    ratio: reduction ratio r; the hidden layer has `C // r` units (at least 1).
    use_biases: whether the two fully connected layers have biases.
    placement: where the block sits in the unit (SENet paper, Fig. 5):
      'standard' scales the residual branch before the addition;
      'pre' scales the unit's input of the residual branch;
      'post' scales the unit's output, after the addition and ReLU;
      'identity' scales the shortcut, in parallel to the residual branch.
    fc2_bias_init: initial bias of the second layer; sigmoid(b) is the gates'
      starting value when the first layer's output is small.
  """

  def __new__(cls, ratio=16, use_biases=True, placement='standard',
              fc2_bias_init=0.0):
    if placement not in layers.SE_PLACEMENTS:
      raise ValueError('Unknown SE placement %r; valid placements: %s' %
                       (placement, ', '.join(layers.SE_PLACEMENTS)))
    if isinstance(ratio, bool) or not _is_integer(ratio) or ratio < 1:
      raise ValueError('The SE reduction ratio must be an integer >= 1, got '
                       '%r' % (ratio,))
    if fc2_bias_init and not use_biases:
      raise ValueError('se_fc2_bias_init=%r needs FC biases; it would be '
                       'ignored with se_use_biases=False' % (fc2_bias_init,))
    return super().__new__(cls, int(ratio), bool(use_biases), placement,
                           float(fc2_bias_init))


def _is_integer(value):
  try:
    return int(value) == value
  except (TypeError, ValueError):
    return False


def _excite(net, squeeze_excitation, addend=None, squeezed=None):
  return layers.squeeze_excitation(
      net, ratio=squeeze_excitation.ratio,
      use_biases=squeeze_excitation.use_biases,
      fc2_bias_init=squeeze_excitation.fc2_bias_init, scope='se',
      addend=addend, squeezed=squeezed)


def _squeeze_conv3_input(unit_scope, conv3_input, depth):
  """The SE squeeze of conv3's output, from conv3's input where it pays.

  `layers.squeeze_before`: conv3 (1x1, stride 1, batch norm, no activation)
  commutes with the mean over H and W in inference. None: squeeze conv3's
  output.
  """

  def conv3(pooled):
    with v1.variable_scope(unit_scope, reuse=True):
      return layers.conv2d(pooled, depth, [1, 1], stride=1,
                           activation_fn=None, scope='conv3',
                           outputs_collections=None)

  return layers.squeeze_before(conv3_input, conv3, depth)


@slim.add_arg_scope
def bottleneck(inputs,
               depth,
               depth_bottleneck,
               stride,
               rate=1,
               outputs_collections=None,
               scope=None,
               use_bounded_activations=False,
               squeeze_excitation=None,
               stride_conv='conv2',
               shortcut='subsample',
               groups=1):
  """The ResNet v1 bottleneck unit (BN after each conv), optionally with SE.

  Args:
    inputs: [batch, height, width, channels] tensor.
    depth: output depth of the unit.
    depth_bottleneck: depth of the 1x1 and 3x3 convs inside.
    stride: the unit's stride, carried by `stride_conv` (and the shortcut).
    rate: atrous rate of the 3x3 conv.
    outputs_collections: collection receiving the unit's and convs' outputs.
    scope: variable scope (default 'bottleneck_v1').
    use_bounded_activations: ReLU6 and clipping, as in Slim, for quantization.
    squeeze_excitation: a `SqueezeExcitation`, or None for plain ResNet.
    stride_conv: 'conv2' (the 3x3 strides; Slim, torch) or 'conv1' (the
      first 1x1 strides; Caffe's ResNet and SE-ResNet).
    shortcut: 'subsample' (a 1x1 conv only when the depth changes, else the
      input subsampled by `stride`; Slim) or 'projection' (always a 1x1 conv
      with the stride, as torch's `downsample` of a strided unit).
    groups: groups of the 3x3 conv (ResNeXt's cardinality).

  Returns:
    The unit's output tensor.
  """
  if stride_conv not in topology_lib.STRIDE_CONVS:
    raise ValueError('Unknown stride_conv %r; valid: %s' % (
        stride_conv, ', '.join(topology_lib.STRIDE_CONVS)))
  if shortcut not in topology_lib.SHORTCUTS:
    raise ValueError('Unknown shortcut %r; valid: %s' % (
        shortcut, ', '.join(topology_lib.SHORTCUTS)))
  project = shortcut == 'projection'
  with v1.variable_scope(scope, 'bottleneck_v1', [inputs]) as sc:
    depth_in = inputs.shape.as_list()[-1]
    if depth == depth_in and not project:
      shortcut = resnet_utils.subsample(inputs, stride, 'shortcut')
    else:
      shortcut = layers.conv2d(
          inputs, depth, [1, 1], stride=stride,
          activation_fn=tf.nn.relu6 if use_bounded_activations else None,
          scope='shortcut')
    se = squeeze_excitation
    placement = se.placement if se else None
    conv1_stride, conv2_stride = ((stride, 1) if stride_conv == 'conv1' else
                                  (1, stride))

    residual = inputs
    if placement == 'pre':
      residual = _excite(residual, se)
    residual = layers.conv2d(residual, depth_bottleneck, [1, 1],
                             stride=conv1_stride, scope='conv1')
    residual = resnet_utils.conv2d_same(residual, depth_bottleneck, 3,
                                        conv2_stride, rate=rate, scope='conv2',
                                        groups=groups)
    conv3_input = residual
    residual = layers.conv2d(residual, depth, [1, 1], stride=1,
                             activation_fn=None, scope='conv3')

    if use_bounded_activations:
      if placement == 'standard':
        residual = _excite(residual, se)
      elif placement == 'identity':
        shortcut = _excite(shortcut, se)
      residual = tf.clip_by_value(residual, -6.0, 6.0)
      output = tf.nn.relu6(shortcut + residual)
    elif placement == 'standard':
      # The SE tail: relu(residual * gates + shortcut), one op where it can.
      output = _excite(residual, se, addend=shortcut,
                       squeezed=_squeeze_conv3_input(sc, conv3_input, depth))
    elif placement == 'identity':
      output = _excite(shortcut, se, addend=residual)
    else:
      output = tf.nn.relu(shortcut + residual)
    if placement == 'post':
      output = _excite(output, se)
    return slim.utils.collect_named_outputs(outputs_collections, sc.name,
                                            output)


def resnet_v1(inputs,
              blocks,
              num_classes=None,
              is_training=True,
              global_pool=True,
              output_stride=None,
              include_root_block=True,
              spatial_squeeze=True,
              store_non_strided_activations=False,
              reuse=None,
              scope=None,
              topology=topology_lib.DEFAULT):
  """The generic ResNet v1 (and SE-ResNet v1, ResNeXt) builder.

  Args:
    inputs: [batch, height, width, channels] images; batch and spatial size
      may be unknown.
    blocks: list of `resnet_utils.Block`, e.g. from `resnet_v1_block`.
    num_classes: logits size; None or 0 returns the features before logits.
    is_training: batch norm mode.
    global_pool: mean over height and width before the logits; False keeps
      the network fully convolutional.
    output_stride: None, or the ratio of input to output resolution (a
      multiple of 4 with the root block) reached with atrous convolution.
    include_root_block: conv1 (7x7/2) and pool1 (3x3/2) before the blocks.
    spatial_squeeze: squeeze the [N,1,1,C] logits to [N,C].
    store_non_strided_activations: see `resnet_utils.stack_blocks_dense`.
    reuse: reuse the variables of an earlier call with the same scope.
    scope: variable scope.
    topology: a `nets.topology` preset name (or `Topology`); here it chooses
      the stem's max pool. The blocks carry the rest: build them for the
      same topology (`resnet_v1_blocks(..., topology=...)`).

  Returns:
    (net, end_points): logits (or features), and a dict of named activations.

  Raises:
    ValueError: if `output_stride` is not reachable, or unknown topology.
  """
  preset = topology_lib.get(topology)
  with v1.variable_scope(scope, 'resnet_v1', [inputs], reuse=reuse) as sc:
    end_points_collection = sc.original_name_scope + '_end_points'
    with slim.arg_scope([layers.conv2d, bottleneck,
                         resnet_utils.stack_blocks_dense],
                        outputs_collections=end_points_collection), \
         slim.arg_scope(layers.training_scope(is_training)):
      net = inputs
      if include_root_block:
        if output_stride is not None:
          if output_stride % 4 != 0:
            raise ValueError('The output_stride needs to be a multiple of 4.')
          output_stride //= 4
        net = resnet_utils.conv2d_same(net, 64, 7, stride=2, scope='conv1')
        net = resnet_utils.stem_pool(net, preset.stem_pool, scope='pool1')
      net = resnet_utils.stack_blocks_dense(net, blocks, output_stride,
                                            store_non_strided_activations)
      end_points = slim.utils.convert_collection_to_dict(end_points_collection)
      if global_pool:
        net = layers.global_avg_pool(net, keepdims=True, scope='pool5')
        end_points['global_pool'] = net
      if num_classes:
        net = layers.conv2d(net, num_classes, [1, 1], activation_fn=None,
                            normalizer_fn=None, scope='logits')
        end_points[sc.name + '/logits'] = net
        if spatial_squeeze:
          net = tf.squeeze(net, [1, 2], name='SpatialSqueeze')
          end_points[sc.name + '/spatial_squeeze'] = net
        end_points['predictions'] = tf.nn.softmax(net, name='predictions')
      return net, end_points


resnet_v1.default_image_size = 224


def resnet_v1_block(scope, base_depth, num_units, stride,
                    squeeze_excitation=None, topology=topology_lib.DEFAULT,
                    depth_bottleneck=None, groups=1):
  """A block of `num_units` bottlenecks; one of them carries `stride`.

  Args:
    scope: the block's scope, e.g. 'block1'.
    base_depth: the unit's planes; the output depth is 4x.
    num_units: number of units.
    stride: the block's stride, carried by its last unit (topology 'slim':
      Slim's `resnet_v1_block`) or its first (the other topologies).
    squeeze_excitation: a `SqueezeExcitation` for every unit, or None.
    topology: a `nets.topology` preset name (or `Topology`): which unit and
      which conv stride, and the strided unit's shortcut.
    depth_bottleneck: width of the 1x1 and 3x3 convs inside (default
      `base_depth`; ResNeXt's are wider).
    groups: groups of the 3x3 convs (ResNeXt's cardinality).

  Returns:
    A `resnet_utils.Block`.
  """
  preset = topology_lib.get(topology)
  unit = {'depth': base_depth * 4,
          'depth_bottleneck': depth_bottleneck or base_depth,
          'squeeze_excitation': squeeze_excitation}
  if groups != 1:
    unit['groups'] = groups
  # Slim's units keep exactly Slim's keys; the others say where they stride.
  strided = dict(unit)
  if preset.stride_conv != 'conv2':
    strided['stride_conv'] = preset.stride_conv
  if preset.shortcut != 'subsample' and stride != 1:
    # As torch's `downsample`: a conv where the stride or the depth changes
    # (a stride-1 unit keeping its depth adds its input as it is).
    strided['shortcut'] = preset.shortcut
  units = [dict(unit, stride=1) for _ in range(num_units)]
  units[-1 if preset.stride_unit == 'last' else 0] = dict(strided,
                                                          stride=stride)
  return resnet_utils.Block(scope, bottleneck, units)


def bottleneck_width(planes, cardinality=1, width_per_group=64):
  """Width of a unit's 1x1 and 3x3 convs: `planes` for ResNet, and
  `floor(planes * width_per_group / 64) * cardinality` for ResNeXt (32x4d:
  128 for planes 64), as torchvision's and timm's ResNeXts."""
  return (planes * width_per_group // 64) * cardinality


def resnet_v1_blocks(depth, depth_multiplier=1.0, min_base_depth=8,
                     squeeze_excitation=None, se_blocks=None,
                     topology=topology_lib.DEFAULT, cardinality=1,
                     width_per_group=64):
  """The four blocks of a registered depth, as data.

  Args:
    depth: a key of `UNITS_PER_BLOCK`.
    depth_multiplier: scales every unit's planes (floor `min_base_depth`):
      `planes = max(int(base * depth_multiplier), min_base_depth)` with base
      64, 128, 256, 512; units output `4 * planes`.
    min_base_depth: smallest planes after scaling.
    squeeze_excitation: `SqueezeExcitation` spec, or None for plain ResNet.
    se_blocks: which blocks carry SE: None for all, else block numbers
      (1..4) or names ('block1'..'block4').
    topology: a `nets.topology` preset name: where the blocks stride.
    cardinality: groups of the 3x3 convs (1: ResNet; 32: ResNeXt 32x4d).
    width_per_group: with `cardinality`, the bottleneck width
      (`bottleneck_width`); 64 and cardinality 1 give ResNet's `planes`.

  Returns:
    A list of four `resnet_utils.Block`.

  Raises:
    ValueError: unknown depth, SE block or topology, or a bottleneck width
      below the cardinality.
  """
  if depth not in UNITS_PER_BLOCK:
    raise ValueError('Unknown ResNet depth %r; valid depths: %s' %
                     (depth, ', '.join(map(str, sorted(UNITS_PER_BLOCK)))))
  preset = topology_lib.get(topology)
  names = list(options.BLOCK_NAMES)
  chosen = set(names) if se_blocks is None else set(
      options.se_block_names(se_blocks))
  if not chosen <= set(names):
    raise ValueError('Unknown SE blocks %s; valid blocks: 1-4 or %s' %
                     (sorted(chosen - set(names)), ', '.join(names)))
  blocks = []
  for name, base, units, stride in zip(names, BASE_DEPTHS,
                                       UNITS_PER_BLOCK[depth],
                                       preset.block_strides):
    planes = max(int(base * depth_multiplier), min_base_depth)
    width = bottleneck_width(planes, cardinality, width_per_group)
    if width < cardinality:
      raise ValueError(
          '%s: %d planes give a bottleneck width of %d, fewer channels than '
          'its %d groups; raise depth_multiplier (planes >= %d)' % (
              name, planes, width, cardinality,
              -(-64 // width_per_group)))
    blocks.append(resnet_v1_block(
        name, planes, units, stride,
        squeeze_excitation if name in chosen else None, topology=preset,
        depth_bottleneck=width, groups=cardinality))
  return blocks


def make_builder(name, depth, with_se, default_topology=topology_lib.DEFAULT,
                 cardinality=1, width_per_group=64, description='ResNet v1'):
  """Makes a named builder (`resnet_v1_50`, `se_resnext_50_32x4d`, ...).

  Args:
    name: the builder's name and default variable scope.
    depth: a key of `UNITS_PER_BLOCK`.
    with_se: squeeze-and-excitation in every unit (options as `se_spec`).
    default_topology: the `topology` keyword's default.
    cardinality, width_per_group: as `resnet_v1_blocks`.
    description: the family, for the docstring.

  Returns:
    `builder(inputs, num_classes=None, is_training=True, global_pool=True,
    output_stride=None, spatial_squeeze=True,
    store_non_strided_activations=False, min_base_depth=8,
    depth_multiplier=1, reuse=None, scope=name, topology=default_topology,
    **se_options) -> (net, end_points)`, with `default_image_size` 224.
  """

  def builder(inputs,
              num_classes=None,
              is_training=True,
              global_pool=True,
              output_stride=None,
              spatial_squeeze=True,
              store_non_strided_activations=False,
              min_base_depth=8,
              depth_multiplier=1,
              reuse=None,
              scope=name,
              topology=default_topology,
              **se_options):
    unknown = sorted(set(se_options) - set(SE_OPTION_NAMES if with_se else
                                           ()))
    if unknown:
      raise TypeError('%s() got unexpected keyword arguments %s; %s' % (
          name, unknown, 'its SE options are %s' % ', '.join(SE_OPTION_NAMES)
          if with_se else 'the SE options (%s) are for the se_* networks' %
          ', '.join(SE_OPTION_NAMES)))
    if with_se:
      squeeze_excitation, se_blocks = se_spec(**se_options)
    else:
      squeeze_excitation, se_blocks = None, None
    blocks = resnet_v1_blocks(depth, depth_multiplier, min_base_depth,
                              squeeze_excitation, se_blocks,
                              topology=topology, cardinality=cardinality,
                              width_per_group=width_per_group)
    return resnet_v1(inputs, blocks, num_classes, is_training,
                     global_pool=global_pool, output_stride=output_stride,
                     include_root_block=True, spatial_squeeze=spatial_squeeze,
                     store_non_strided_activations=store_non_strided_activations,
                     reuse=reuse, scope=scope, topology=topology)

  builder.__name__ = builder.__qualname__ = name
  builder.__doc__ = (
      '%s%s-layer %s (units per block %s). Arguments and return value as '
      '`resnet_v1()`; `topology` (default %r) as `nets.topology`%s.' % (
          'Squeeze-and-excitation ' if with_se else '', depth, description,
          UNITS_PER_BLOCK[depth], default_topology,
          '; SE options as `se_spec()`' if with_se else ''))
  builder.default_image_size = resnet_v1.default_image_size
  builder.default_topology = default_topology
  return builder


def _make_builder(depth, with_se):
  """Makes `resnet_v1_<depth>` or `se_resnet_v1_<depth>` from the table."""
  name = ('se_resnet_v1_%d' if with_se else 'resnet_v1_%d') % depth
  return make_builder(name, depth, with_se)


def se_spec(se_ratio=16, se_use_biases=True, se_placement='standard',
            se_fc2_bias_init=0.0, se_blocks=None):
  """Turns the SE keyword options of `se_resnet_v1_*` into a spec.

  Args:
    se_ratio: reduction ratio r (default 16, as in the paper).
    se_use_biases: biases in the two FC layers (default True).
    se_placement: 'standard' (default), 'pre', 'post' or 'identity'.
    se_fc2_bias_init: initial fc2 bias (default 0.0; e.g. 5.0 to start with
      gates near 1 when warm-starting from a plain ResNet checkpoint).
    se_blocks: None (all blocks) or block numbers/names that carry SE, e.g.
      [3, 4] or ['block3', 'block4']; [] gives the plain network's function
      under the SE name.

  Returns:
    (SqueezeExcitation, se_blocks)
  """
  return (SqueezeExcitation(se_ratio, se_use_biases, se_placement,
                            se_fc2_bias_init), se_blocks)


# The keywords of `se_spec`, as the `nets.options` table lists them.
SE_OPTION_NAMES = options.SE_NAMES

resnet_v1_14 = _make_builder(14, with_se=False)
resnet_v1_26 = _make_builder(26, with_se=False)
resnet_v1_50 = _make_builder(50, with_se=False)
resnet_v1_101 = _make_builder(101, with_se=False)
resnet_v1_152 = _make_builder(152, with_se=False)
resnet_v1_200 = _make_builder(200, with_se=False)
se_resnet_v1_14 = _make_builder(14, with_se=True)
se_resnet_v1_26 = _make_builder(26, with_se=True)
se_resnet_v1_50 = _make_builder(50, with_se=True)
se_resnet_v1_101 = _make_builder(101, with_se=True)
se_resnet_v1_152 = _make_builder(152, with_se=True)
se_resnet_v1_200 = _make_builder(200, with_se=True)

# name -> builder, for the factory.
BUILDERS = {fn.__name__: fn for fn in (
    resnet_v1_14, resnet_v1_26, resnet_v1_50, resnet_v1_101, resnet_v1_152,
    resnet_v1_200, se_resnet_v1_14, se_resnet_v1_26, se_resnet_v1_50,
    se_resnet_v1_101, se_resnet_v1_152, se_resnet_v1_200)}
