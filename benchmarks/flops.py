"""Multiply-adds of a built graph, read off its convolution and matmul ops.

The paper convention (SENet, ResNet): count the multiply-adds of convolutions
and fully connected layers, nothing else. Counting from the graph rather than
from a network description lets the benchmark count the peers it compares
against (`tf_slim.nets`, `tf_keras.applications`) by the same rule, and count
a training graph's backward convolutions too. Every counted op needs static
shapes, so build with a fixed batch size.

Example:

    with tf.Graph().as_default() as graph:
      logits, _ = network_fn(tf.zeros([8, 224, 224, 3]))
    count_multiply_adds(graph).total / 8   # multiply-adds per image
"""
import collections

MultiplyAdds = collections.namedtuple('MultiplyAdds', ['total', 'by_op_type'])


def _dims(tensor):
  shape = tensor.shape
  if shape.rank is None or not shape.is_fully_defined():
    raise ValueError('Cannot count multiply-adds of %s (%s): shape %s is not '
                     'static; build the graph with a fixed batch size' %
                     (tensor.op.name, tensor.op.type, shape))
  return shape.as_list()


def _product(values):
  result = 1
  for value in values:
    result *= value
  return result


def _channels_axis(op):
  data_format = op.get_attr('data_format')
  return 1 if data_format in (b'NCHW', 'NCHW') else -1


def _conv2d(op):
  kh, kw, cin, _ = _dims(op.inputs[1])
  return _product(_dims(op.outputs[0])) * kh * kw * cin


def _conv2d_backprop_input(op):
  kh, kw, cin, _ = _dims(op.inputs[1])
  return _product(_dims(op.inputs[2])) * kh * kw * cin


def _conv2d_backprop_filter(op):
  kh, kw, cin, _ = _dims(op.outputs[0])
  return _product(_dims(op.inputs[2])) * kh * kw * cin


def _depthwise(op):
  kh, kw, _, _ = _dims(op.inputs[1])
  return _product(_dims(op.outputs[0])) * kh * kw


def _matmul(op):
  a = _dims(op.inputs[0])
  inner = a[-2] if op.get_attr('transpose_a') else a[-1]
  return _product(_dims(op.outputs[0])) * inner


def _batch_matmul(op):
  a = _dims(op.inputs[0])
  inner = a[-2] if op.get_attr('adj_x') else a[-1]
  return _product(_dims(op.outputs[0])) * inner


_COUNTERS = {
    'Conv2D': _conv2d,
    'Conv2DBackpropInput': _conv2d_backprop_input,
    'Conv2DBackpropFilter': _conv2d_backprop_filter,
    'DepthwiseConv2dNative': _depthwise,
    'MatMul': _matmul,
    'BatchMatMul': _batch_matmul,
    'BatchMatMulV2': _batch_matmul,
    'BatchMatMulV3': _batch_matmul,
}

COUNTED_OP_TYPES = tuple(sorted(_COUNTERS))


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


def count_multiply_adds(graph, ops=None):
  """Multiply-adds of the conv/matmul ops of `graph` (or of `ops`).

  Args:
    graph: a `tf.Graph`.
    ops: optional iterable of ops to count instead of the whole graph, e.g.
      `upstream_ops([train_op])`.

  Returns:
    MultiplyAdds(total, by_op_type) for one run of those ops (the whole batch).

  Raises:
    ValueError: if a counted op has a non-static shape, or uses NCHW (the
      counters read NHWC shapes).
  """
  by_type = collections.Counter()
  for op in (graph.get_operations() if ops is None else ops):
    counter = _COUNTERS.get(op.type)
    if counter is None:
      continue
    if op.type.startswith('Conv2D') and _channels_axis(op) == 1:
      raise ValueError('%s uses NCHW; only NHWC is counted' % op.name)
    by_type[op.type] += counter(op)
  return MultiplyAdds(sum(by_type.values()), dict(by_type))
