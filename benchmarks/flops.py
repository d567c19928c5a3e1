"""Multiply-adds of the ops a session run executes, for the benchmark.

One counter, one convention: every op is costed by
`diagnostics.model_summary.op_multiply_adds` (the SENet / ResNet papers'
multiply-adds of convolutions and fully connected layers), so the benchmark
counts ours, `tf_slim.nets` and `tf_keras.applications` by the rule that
`python -m diagnostics.model_summary` prints. What this module adds is the scope of
the count: the ops one `session.run` of given fetches executes (a training
step's backward convolutions included), not the ops under one model scope.
Every counted op needs static shapes, so build with a fixed batch size.

Example:

    with tf.Graph().as_default() as graph:
      logits, _ = network_fn(tf.zeros([8, 224, 224, 3]))
    count_multiply_adds(graph, upstream_ops([logits])).total / 8   # per image
"""
import collections

from diagnostics import model_summary

MultiplyAdds = collections.namedtuple('MultiplyAdds', ['total', 'by_op_type'])

COUNTED_OP_TYPES = model_summary.COUNTED_OP_TYPES


upstream_ops = model_summary.upstream_ops


def count_multiply_adds(graph, ops=None):
  """Multiply-adds of the conv/matmul ops of `graph` (or of `ops`).

  Args:
    graph: a `tf.Graph`.
    ops: optional iterable of ops to count instead of the whole graph, e.g.
      `upstream_ops([train_op])`.

  Returns:
    MultiplyAdds(total, by_op_type) for one run of those ops (the whole batch).

  Raises:
    ValueError: if a counted op has a non-static shape or uses NCHW.
  """
  by_type = collections.Counter()
  for op in (graph.get_operations() if ops is None else ops):
    macs = model_summary.op_multiply_adds(op)
    if macs:
      by_type[op.type] += macs
  return MultiplyAdds(sum(by_type.values()), dict(by_type))
