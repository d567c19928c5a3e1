"""The errors of checkpoint restoring, and TensorFlow's words made one line."""
import re


class CheckpointMismatchError(ValueError):
  """A checkpoint does not fit the graph; the message says how."""


class NotACheckpointError(CheckpointMismatchError):
  """A path named as a checkpoint holds something TensorFlow cannot read.

  Attributes:
    path: the checkpoint prefix.
    detail: what TensorFlow said, on one line.
  """

  def __init__(self, path, detail, advice=None):
    super().__init__('%s is not a TensorFlow checkpoint (%s): %s' % (
        path, detail, advice or
        'pass the prefix of a checkpoint written by a tf.train.Saver (the '
        'name before .index), or copy it again if it was damaged'))
    self.path = path
    self.detail = detail


def op_error_detail(error):
  """The line of a TensorFlow `OpError` that says what went wrong (not the
  'Graph execution error' frame around it), without a 'TensorBundle at
  <path>' prefix.

  Example:
    raise NotACheckpointError(prefix, op_error_detail(error))
  """
  lines = [l.strip() for l in (error.message or '').splitlines()]
  detail = next((lines[i + 1] for i, l in enumerate(lines[:-1])
                 if l.startswith('Node: ')), None)
  detail = detail or next((l for l in lines if l), type(error).__name__)
  return re.sub(r'^TensorBundle at \S+ ', 'data file ', detail)
