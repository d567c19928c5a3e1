"""The one place TensorFlow, tf-slim and tf_keras are imported from.

tf-slim 1.1.0 does not run as installed on TensorFlow 2.21: it lazy-loads
``tf_keras.legacy_tf_layers`` (shipped as ``tf_keras.src.legacy_tf_layers``) and
uses nine TF-internal names that TF has since moved. This module puts both back,
silences TensorFlow's start-up noise, and re-exports the modules:

    from runtime.tf_compat import tf, v1, slim, tf_keras

It never switches the process to graph mode (library code builds inside
``tf.Graph().as_default()``); scripts may call ``v1.disable_v2_behavior()``.
"""
import contextlib
import logging
import os
import sys
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')


@contextlib.contextmanager
def _silenced_stderr_fd():
  """Hides C++ log lines printed before absl logging is initialised."""
  try:
    sys.stderr.flush()
    saved = os.dup(2)
  except (OSError, ValueError):  # No real fd 2 (some embedded interpreters).
    yield
    return
  devnull = os.open(os.devnull, os.O_WRONLY)
  os.dup2(devnull, 2)
  try:
    yield
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)


with _silenced_stderr_fd():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tf_keras  # pylint: disable=g-import-not-at-top
  import tf_keras.src.legacy_tf_layers as _legacy_tf_layers  # pylint: disable=g-import-not-at-top
  import tf_keras.src.legacy_tf_layers.normalization  # pylint: disable=g-import-not-at-top,unused-import

tf.get_logger().setLevel(logging.ERROR)
warnings.filterwarnings(
    'ignore', category=UserWarning, module=r'(tensorflow|tf_keras|tf_slim)\b')

# (1) slim.batch_norm imports tf_keras.legacy_tf_layers lazily.
sys.modules.setdefault('tf_keras.legacy_tf_layers', _legacy_tf_layers)


def _restore_moved_tf_names():
  """Adds back the TF-internal names tf_slim 1.1.0 still looks up."""
  # pylint: disable=g-import-not-at-top
  from tensorflow.python.framework import indexed_slices, ops, tensor
  from tensorflow.python.ops import (array_ops, array_ops_stack, cond,
                                     control_flow_assert, control_flow_case,
                                     control_flow_ops, variable_scope,
                                     variable_v1, while_loop)
  # pylint: enable=g-import-not-at-top

  def _variable(initial_value=None, **kwargs):
    return variable_v1.VariableV1(initial_value=initial_value, **kwargs)

  for module, name, value in (
      (ops, 'Tensor', tensor.Tensor),
      (ops, 'IndexedSlices', indexed_slices.IndexedSlices),
      (array_ops, 'stack', array_ops_stack.stack),
      (array_ops, 'unstack', array_ops_stack.unstack),
      (control_flow_ops, 'cond', cond.cond),
      (control_flow_ops, 'case', control_flow_case.case),
      (control_flow_ops, 'while_loop', while_loop.while_loop),
      (control_flow_ops, 'Assert', control_flow_assert.Assert),
      (variable_scope, 'variable', _variable),
  ):
    if not hasattr(module, name):
      setattr(module, name, value)


_restore_moved_tf_names()

import tf_slim as slim  # pylint: disable=g-import-not-at-top,wrong-import-position

v1 = tf.compat.v1

__all__ = ['tf', 'v1', 'slim', 'tf_keras']
