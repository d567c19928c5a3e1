"""Turns the errors a user can cause into one line and a non-zero exit.

    def main(argv):
      return script_util.run_reporting_errors(lambda: evaluate(...))

Bad input (missing checkpoint or data, a checkpoint of another network, an
unknown split or name) raises `ValueError` subclasses or TensorFlow's
`OpError`; these print `error: <message on one line>` to stderr and give exit
code 1. The traceback goes to the log at debug level (`--verbosity=1`).
"""
import sys
import traceback

from absl import logging

from nets.tf_compat import tf

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
