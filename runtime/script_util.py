"""Turns the errors a user can cause into one line and an exit code.

    if __name__ == '__main__':
      app.run(main, flags_parser=script_util.parse_flags)

    def main(argv):
      return script_util.graph_mode_main(argv, lambda: evaluate(...),
                                         check=check_flags)

Exit codes: 2 for a bad flag (absl's own checks in `parse_flags`, and the
script's `check`), reported before TensorFlow is imported; 1 for bad input
found later (missing checkpoint or data, a checkpoint of another network):
`ValueError` subclasses or TensorFlow's `OpError`. Either prints
`error: <message on one line>` to stderr; the traceback goes to the log at
debug level (`--verbosity=1`). This module does not import TensorFlow.
"""
import sys
import traceback

from absl import flags
from absl import logging

FLAG_ERROR = 2
INPUT_ERROR = 1

# Lines of a TensorFlow error message that are not the error itself: the
# session's preamble, node names and the Python stack of the failing op.
OP_ERROR_NOISE = ('Graph execution error', '[[', 'Detected at node',
                  'File "', 'Node:', 'defined at')


def message_lines(error):
  """The lines of an error's message that say what went wrong.

  A TensorFlow `OpError`'s message also carries "Graph execution error:",
  node names and the stack that created the op; those lines are dropped.

  Example:
    ' '.join(message_lines(e))   # 'Invalid PNG. Failed to initialize ...'
  """
  message = getattr(error, 'message', None)
  if not isinstance(message, str):
    message = str(error)
  lines = [line.strip() for line in message.splitlines() if line.strip()]
  kept = [line for line in lines if not line.startswith(OP_ERROR_NOISE)]
  return kept or lines or [type(error).__name__]


def one_line(error):
  """The error's message on one line (TensorFlow's node names and op stack
  dropped)."""
  return ' '.join(' '.join(message_lines(error)).split())


def fail(error, status, stream=None):
  """Prints `error: <one line>` to stderr; returns `status`."""
  print('error: %s' % one_line(error), file=stream or sys.stderr)
  return status


def parse_flags(argv):
  """An `app.run` flags parser: a bad flag exits 2 with one `error:` line.

  absl's own parser exits 1 with "FATAL Flags parsing error".
  """
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    print('error: %s (--helpfull lists the flags)' % one_line(e),
          file=sys.stderr)
    sys.exit(FLAG_ERROR)


def check_flags_early(define_flags, check=None, argv=None):
  """Defines, parses and checks a command line's flags; a bad one exits 2.

  For a `python -m` command line whose module imports TensorFlow at the
  top: called in an `if __name__ == '__main__':` block before those imports,
  so a bad flag is reported at once. `app.run` parses the flags again later.

  Args:
    define_flags: defines the flags (must not import TensorFlow).
    check: optional; raises `ValueError` for a bad value (exit 2).
    argv: the command line (default `sys.argv`).

  Example:
    if __name__ == '__main__':
      script_util.check_flags_early(_define_flags, _check_flags)
  """
  from absl import app  # pylint: disable=g-import-not-at-top,unused-import
  define_flags()
  parse_flags(sys.argv if argv is None else argv)
  if check is not None:
    try:
      check()
    except ValueError as e:
      sys.exit(fail(e, FLAG_ERROR))


def user_errors():
  """The exception types a user can cause (TensorFlow's only if loaded)."""
  types = (ValueError, OSError)
  tf_errors = sys.modules.get('tensorflow.python.framework.errors_impl')
  if tf_errors is not None:
    types += (tf_errors.OpError,)
  return types


def run_reporting_errors(fn, stream=None):
  """Calls `fn()`; returns 0, or 1 after printing a user error as one line."""
  try:
    fn()
  except user_errors() as e:  # pylint: disable=catching-non-exception
    logging.debug('%s', traceback.format_exc())
    return fail(e, INPUT_ERROR, stream)
  return 0


def graph_mode_main(argv, fn, check=None):
  """An absl `main` body: no positional arguments, TF1 graph mode, INFO logs.

  Args:
    argv: what `app.run` passes; anything past the program name is a usage
      error (exit 2).
    fn: the script's work, called with no arguments.
    check: optional; checks the flags without TensorFlow, raising
      `ValueError` for a bad one (exit 2).

  Returns:
    2 for a bad flag, else the exit code of `run_reporting_errors(fn)`.
  """
  if len(argv) > 1:
    return fail('unexpected arguments: %s' % ' '.join(argv[1:]), FLAG_ERROR)
  if check is not None:
    try:
      check()
    except ValueError as e:
      return fail(e, FLAG_ERROR)
  # TensorFlow loads here, after the flags were found good.
  from runtime.tf_compat import v1  # pylint: disable=g-import-not-at-top
  v1.disable_v2_behavior()
  logging.set_verbosity(logging.INFO)
  return run_reporting_errors(fn)
