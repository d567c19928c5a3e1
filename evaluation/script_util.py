"""Turns the errors a user can cause into one line and a non-zero exit.

    def main(argv):
      return script_util.graph_mode_main(argv, lambda: evaluate(...))

Bad input (missing checkpoint or data, a checkpoint of another network, an
unknown split or name) raises `ValueError` subclasses or TensorFlow's
`OpError`; these print `error: <message on one line>` to stderr and give exit
code 1. The traceback goes to the log at debug level (`--verbosity=1`).
"""
import sys
import traceback

from absl import app
from absl import logging

from nets.tf_compat import tf, v1

USER_ERRORS = (ValueError, tf.errors.OpError, OSError)


def one_line(error):
  """The error's message with its lines and indentation collapsed."""
  if isinstance(error, tf.errors.OpError):
    message = error.message
  else:
    message = str(error)
  return ' '.join(message.split())


def run_reporting_errors(fn, stream=None):
  """Calls `fn()`; returns 0, or 1 after printing a user error as one line."""
  try:
    fn()
  except USER_ERRORS as e:  # pylint: disable=catching-non-exception
    logging.debug('%s', traceback.format_exc())
    print('error: %s' % one_line(e), file=stream or sys.stderr)
    return 1
  return 0


def graph_mode_main(argv, fn):
  """An absl `main` body: no positional arguments, TF1 graph mode, INFO logs.

  Args:
    argv: what `app.run` passes; anything past the program name is a usage
      error.
    fn: the script's work, called with no arguments.

  Returns:
    The exit code of `run_reporting_errors(fn)`.
  """
  if len(argv) > 1:
    raise app.UsageError('unexpected arguments: %s' % ' '.join(argv[1:]))
  v1.disable_v2_behavior()
  logging.set_verbosity(logging.INFO)
  return run_reporting_errors(fn)
