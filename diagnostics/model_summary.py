"""Parameters and multiply-adds of a network, per block and in total.

The figures are read off a real graph: the network is built by the factory
(any name, any style) on a fixed-size batch of one image, its trainable
variables are counted, and every `Conv2D`, `DepthwiseConv2dNative` and
`MatMul` op is costed from its static shapes. The FLOP convention is the
SENet / ResNet papers': one multiply-add of a conv or fully connected layer is
one FLOP; batch norm, activations, pooling, additions, biases and the SE
block's channel-wise scaling are not counted. (Counting a multiply and an add
as two FLOPs doubles every figure.)

Library use, e.g. to turn a throughput into GFLOP/s:

    from diagnostics import model_summary
    summary = model_summary.count('se_resnet_v1_50', image_size=224)
    summary.params        # 28088024
    summary.gflops        # multiply-adds per image / 1e9
    print(summary.table())
    gflops_per_second = images_per_second * summary.gflops

Command line:

    python -m diagnostics.model_summary --model_name=se_resnet_v1_50 --se_ratio=8
    python -m diagnostics.model_summary --model_name=se_resnet_v1_50 \
        --topology=caffe                  # the papers' 3.86 GFLOPs
"""
import collections
import dataclasses
from typing import Dict, List, Optional, Tuple

from nets import names
from nets import options as options_lib

def _define_flags():
  """Flags of the command line (defined only when run as a script)."""
  # pylint: disable=g-import-not-at-top
  from absl import flags
  # pylint: enable=g-import-not-at-top
  flags.DEFINE_string('model_name', 'se_resnet_v1_50',
                      'Network name; one of %s.' %
                      ', '.join(names.NETWORK_NAMES))
  flags.DEFINE_enum('style', names.DEFAULT_STYLE, list(names.STYLES),
                    'Layer style to build the graph in (same figures).')
  flags.DEFINE_integer('image_size', None,
                       'Input size; default the network\'s (224).')
  flags.DEFINE_integer('num_classes', 1000, 'Logits size (0: features).')
  flags.DEFINE_enum('by', 'block', ['block', 'unit'], 'Rows per block or '
                    'per unit.')
  options_lib.define_flags(flags.FLAGS)
  return flags.FLAGS


def _check_flags():
  from absl import flags  # pylint: disable=g-import-not-at-top
  names.check_network(flags.FLAGS.model_name)
  options_lib.check(flags.FLAGS.model_name,
                    options_lib.from_flags(flags.FLAGS), prefix='--')


if __name__ == '__main__':
  # A bad flag is reported before TensorFlow loads (the imports below).
  from runtime import script_util  # pylint: disable=g-import-not-at-top
  script_util.check_flags_early(_define_flags, _check_flags)

# pylint: disable=g-import-not-at-top,wrong-import-position
from nets import layers
from nets import nets_factory
from runtime.tf_compat import slim, tf
# pylint: enable=g-import-not-at-top,wrong-import-position

v1 = tf.compat.v1

_SE_COMPONENT = 'se'


@dataclasses.dataclass
class Row:
  """One block (or unit) of the network.

  Attributes:
    name: the scope under the model scope, e.g. 'conv1', 'block2',
      'block2/unit_3'.
    params: trainable parameters.
    multiply_adds: conv + FC multiply-adds for one image.
    se_params: the part of `params` in squeeze-and-excitation blocks.
    se_multiply_adds: the part of `multiply_adds` in SE blocks.
    output_shape: the row's output end point shape for one image, if the
      network collects one.
  """
  name: str
  params: int = 0
  multiply_adds: int = 0
  se_params: int = 0
  se_multiply_adds: int = 0
  output_shape: Optional[Tuple[int, ...]] = None


@dataclasses.dataclass
class Summary:
  """What `count()` measured; totals cover every row.

  Attributes:
    model_name: factory name.
    style: layer style the graph was built in.
    image_size: input height and width.
    num_classes: logits size.
    model_options: builder / arg scope options passed to the factory.
    rows: per-block (or per-unit) figures, in network order.
    params: trainable parameters (the papers' parameter count).
    non_trainable_params: other model variables (batch norm moving stats).
    multiply_adds: conv + FC multiply-adds for one image.
    se_params, se_multiply_adds: the squeeze-and-excitation share.
    num_variables: trainable variables (tensors).
  """
  model_name: str
  style: str
  image_size: int
  num_classes: int
  model_options: Dict[str, object]
  rows: List[Row]
  params: int
  non_trainable_params: int
  multiply_adds: int
  se_params: int
  se_multiply_adds: int
  num_variables: int

  @property
  def gflops(self):
    """Multiply-adds per image in units of 1e9 (the papers' GFLOPs)."""
    return self.multiply_adds / 1e9

  @property
  def mparams(self):
    """Trainable parameters in millions."""
    return self.params / 1e6

  def table(self):
    """The per-row table and the totals, as printable text."""
    header = ('%-16s %14s %12s %16s %14s  %s' %
              ('block', 'params', 'of which SE', 'multiply-adds',
               'of which SE', 'output'))
    lines = [
        '%s (%s style), %dx%d input, %s classes%s' % (
            self.model_name, self.style, self.image_size, self.image_size,
            self.num_classes, ''.join(
                ', %s=%s' % kv for kv in sorted(self.model_options.items()))),
        header, '-' * len(header)]
    for row in self.rows:
      shape = 'x'.join(map(str, row.output_shape)) if row.output_shape else ''
      lines.append('%-16s %14s %12s %16s %14s  %s' % (
          row.name, '{:,}'.format(row.params), '{:,}'.format(row.se_params),
          '{:,}'.format(row.multiply_adds),
          '{:,}'.format(row.se_multiply_adds), shape))
    lines.append('-' * len(header))
    lines.append('%-16s %14s %12s %16s %14s' % (
        'total', '{:,}'.format(self.params), '{:,}'.format(self.se_params),
        '{:,}'.format(self.multiply_adds),
        '{:,}'.format(self.se_multiply_adds)))
    se_share = (', SE adds %.3f%% multiply-adds and %.2f%% parameters' % (
        100.0 * self.se_multiply_adds /
        max(1, self.multiply_adds - self.se_multiply_adds),
        100.0 * self.se_params / max(1, self.params - self.se_params))
                if self.se_params else '')
    lines.append(
        'Parameters: %s (%.1fM) trainable in %d variables, %s non-trainable; '
        'GFLOPs (multiply-adds of conv and FC layers): %.3f%s' % (
            '{:,}'.format(self.params), self.mparams, self.num_variables,
            '{:,}'.format(self.non_trainable_params), self.gflops, se_share))
    return '\n'.join(lines)


def _dims(tensor, op):
  shape = tensor.shape
  if shape.rank is None or not shape.is_fully_defined():
    raise ValueError('Op %s (%s) has unknown shapes %s; build the network on '
                     'a fixed-size input to count it' % (op.name, op.type,
                                                         shape))
  return shape.as_list()


def _conv_macs(op, out_backprop, filter_shape):
  """prod(forward conv output) * kh * kw * in_depth."""
  if op.get_attr('data_format') in (b'NCHW', 'NCHW'):
    raise ValueError('Op %s (%s) uses NCHW; only NHWC is counted' %
                     (op.name, op.type))
  kh, kw, depth_in = filter_shape[:3]
  return _prod(out_backprop) * kh * kw * depth_in


def _matmul_macs(op, adjoint_attr):
  a = _dims(op.inputs[0], op)
  inner = a[-2] if op.get_attr(adjoint_attr) else a[-1]
  return _prod(_dims(op.outputs[0], op)) * inner


# op type -> multiply-adds of one run of the op (its whole batch). The
# backward convolutions cost what the forward one does; they appear in
# training graphs (`benchmarks.flops` counts a training step with them).
_COUNTERS = {
    'Conv2D': lambda op: _conv_macs(op, _dims(op.outputs[0], op),
                                    _dims(op.inputs[1], op)),
    'Conv2DBackpropInput': lambda op: _conv_macs(
        op, _dims(op.inputs[2], op), _dims(op.inputs[1], op)),
    'Conv2DBackpropFilter': lambda op: _conv_macs(
        op, _dims(op.inputs[2], op), _dims(op.outputs[0], op)),
    'DepthwiseConv2dNative': lambda op: (
        _prod(_dims(op.outputs[0], op)) * _prod(_dims(op.inputs[1], op)[:2])),
    'MatMul': lambda op: _matmul_macs(op, 'transpose_a'),
    'BatchMatMul': lambda op: _matmul_macs(op, 'adj_x'),
    'BatchMatMulV2': lambda op: _matmul_macs(op, 'adj_x'),
    'BatchMatMulV3': lambda op: _matmul_macs(op, 'adj_x'),
}

COUNTED_OP_TYPES = tuple(sorted(_COUNTERS))


def op_multiply_adds(op):
  """Multiply-adds of one conv or matmul op (see `COUNTED_OP_TYPES`).

  Counted over the whole batch of the op's static shapes: `Conv2D`,
  `DepthwiseConv2dNative`, `MatMul`/`BatchMatMul*` and the two backward
  convolutions of a training graph (`Conv2DBackpropInput`,
  `Conv2DBackpropFilter`, each as many as the forward conv); other op types
  count 0.

  Raises:
    ValueError: if a counted op's shapes are not fully static, or a conv
      uses NCHW.
  """
  counter = _COUNTERS.get(op.type)
  return counter(op) if counter is not None else 0


def upstream_ops(fetches):
  """The ops a session run of `fetches` (tensors or ops) executes."""
  pending = [f if hasattr(f, 'node_def') else f.op for f in fetches]
  seen = set()
  while pending:
    op = pending.pop()
    if op in seen:
      continue
    seen.add(op)
    pending.extend(t.op for t in op.inputs)
    pending.extend(op.control_inputs)
  return seen


def _prod(values):
  result = 1
  for value in values:
    result *= value
  return result


def _row_key(relative_name, by):
  parts = relative_name.split('/')
  if by == 'unit' and len(parts) > 2 and parts[1].startswith('unit_'):
    return '/'.join(parts[:2])
  return parts[0]


def _is_se(relative_name):
  return _SE_COMPONENT in relative_name.split('/')[:-1]


def count_graph(graph, model_scope, batch_size=1, by='block',
                end_points=None):
  """Counts the variables and ops under `model_scope` of a built graph.

  Args:
    graph: a `tf.Graph` holding one network built on a static-shaped input.
    model_scope: the network's top scope, e.g. 'se_resnet_v1_50'.
    batch_size: the input's batch size (multiply-adds are per image).
    by: 'block' (rows conv1, block1, ..., logits) or 'unit' (block1/unit_1
      ...).
    end_points: the network's end points, to report row output shapes.
      Every conv and matmul op under `model_scope` is counted: the layers
      build only ops that run (batch norm is folded while building, see
      `nets.layers.batch_norm_folding`).

  Returns:
    (rows, totals): a list of `Row` and a dict with the keys params,
    non_trainable_params, multiply_adds, se_params, se_multiply_adds,
    num_variables.

  Raises:
    ValueError: unknown `by`, nothing under `model_scope`, or unknown shapes.
  """
  if by not in ('block', 'unit'):
    raise ValueError("by must be 'block' or 'unit', got %r" % by)
  prefix = model_scope + '/'
  rows = collections.OrderedDict()

  def row_for(name):
    key = _row_key(name[len(prefix):], by)
    if key not in rows:
      rows[key] = Row(key)
    return rows[key]

  with graph.as_default():
    trainable = [v for v in v1.trainable_variables()
                 if v.op.name.startswith(prefix)]
    trainable_names = {v.op.name for v in trainable}
    others = [v for v in v1.global_variables()
              if v.op.name.startswith(prefix)
              and v.op.name not in trainable_names]
  if not trainable:
    scopes = sorted({v.op.name.split('/')[0]
                     for v in graph.get_collection('variables')})
    raise ValueError('No trainable variables under scope %r; the graph has '
                     'scopes: %s' % (model_scope, ', '.join(scopes) or 'none'))
  totals = dict(params=0, non_trainable_params=0, multiply_adds=0,
                se_params=0, se_multiply_adds=0, num_variables=len(trainable))

  for op in graph.get_operations():
    if not op.name.startswith(prefix):
      continue
    macs = op_multiply_adds(op)
    if macs:
      macs //= batch_size
      row = row_for(op.name)
      row.multiply_adds += macs
      totals['multiply_adds'] += macs
      if _is_se(op.name[len(prefix):]):
        row.se_multiply_adds += macs
        totals['se_multiply_adds'] += macs
  for variable in trainable:
    size = variable.shape.num_elements()
    row = row_for(variable.op.name)
    row.params += size
    totals['params'] += size
    if _is_se(variable.op.name[len(prefix):]):
      row.se_params += size
      totals['se_params'] += size
  totals['non_trainable_params'] = sum(v.shape.num_elements() for v in others)

  for row in rows.values():
    row.output_shape = _output_shape(end_points or {}, prefix + row.name,
                                     batch_size)
  return list(rows.values()), totals


def _output_shape(end_points, scope, batch_size):
  """The shape of the last end point at or under `scope`, per image."""
  tensor = end_points.get(scope)
  if tensor is None:
    under = [t for k, t in end_points.items() if k.startswith(scope + '/')]
    tensor = under[-1] if under else None
  if tensor is None or not tensor.shape.is_fully_defined():
    return None
  shape = tensor.shape.as_list()
  if shape and shape[0] == batch_size:
    shape = shape[1:]
  return tuple(shape)


def count(model_name, style='slim', image_size=None, num_classes=1000,
          by='block', **model_options):
  """Builds `model_name` on one image and counts parameters and FLOPs.

  Example:

    summary = count('se_resnet_v1_50', se_ratio=8)
    print(summary.table())
    summary.params, summary.gflops

  Args:
    model_name: a factory name (`nets_factory.network_names()`).
    style: layer style ('slim', 'raw', 'keras'); the figures do not depend
      on it.
    image_size: input height and width; default the network's
      `default_image_size` (224 for ResNets).
    num_classes: logits size (1000 as in the papers; 0 or None for the
      features only).
    by: 'block' or 'unit' rows.
    **model_options: factory options, e.g. se_ratio=8, depth_multiplier=0.5.

  Returns:
    A `Summary`.

  Raises:
    ValueError: unknown network, style or option values.
  """
  network_fn = nets_factory.get_network_fn(
      model_name, num_classes, is_training=False, style=style,
      **model_options)
  size = image_size or network_fn.default_image_size
  channels = 3
  # The network's multiply-adds, not an implementation's: the SE squeeze of
  # conv3's input (`layers.squeeze_before`) runs conv3 once more on a 1x1 map.
  with tf.Graph().as_default() as graph, slim.arg_scope(
      [layers.squeeze_before], enabled=False):
    images = v1.placeholder(tf.float32, [1, size, size, channels],
                            name='images')
    _, end_points = network_fn(images)
    model_scope = _model_scope(graph, model_name)
    rows, totals = count_graph(graph, model_scope, batch_size=1, by=by,
                               end_points=end_points)
  return Summary(model_name=model_name, style=style, image_size=size,
                 num_classes=num_classes or 0,
                 model_options=dict(model_options), rows=rows, **totals)


def _model_scope(graph, model_name):
  """The top scope holding the network's variables (model name by default)."""
  tops = collections.Counter(
      v.op.name.split('/')[0] for v in graph.get_collection('variables'))
  if model_name in tops:
    return model_name
  if not tops:
    raise ValueError('%s built no variables' % model_name)
  return tops.most_common(1)[0][0]


def main(argv):
  # pylint: disable=g-import-not-at-top
  from absl import flags
  from runtime import script_util
  # pylint: enable=g-import-not-at-top
  if len(argv) > 1:
    return script_util.fail('unexpected arguments: %s' % ' '.join(argv[1:]),
                            script_util.FLAG_ERROR)
  flag_values = flags.FLAGS
  options = options_lib.from_flags(flag_values)
  try:
    summary = count(flag_values.model_name, style=flag_values.style,
                    image_size=flag_values.image_size,
                    num_classes=flag_values.num_classes, by=flag_values.by,
                    **options)
  except (ValueError, TypeError) as error:
    return script_util.fail(error, script_util.FLAG_ERROR)
  print(summary.table())
  return 0


if __name__ == '__main__':
  # pylint: disable=g-import-not-at-top
  from absl import app
  # pylint: enable=g-import-not-at-top
  app.run(main, flags_parser=script_util.parse_flags)
