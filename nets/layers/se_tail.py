"""The SE unit's tail, relu(x * gates + shortcut), as one compiled op.

`kernels/se_tail.cc` holds three small CPU ops (see its header): the tail in
one pass, its gradient w.r.t. the shortcut and the gates in one pass, and a
per-sample, per-channel affine map for the gradient w.r.t. x. TensorFlow
itself writes the tail as Mul, AddV2 and Relu, three full-size passes (and
four more for the gradient); see docs/performance.md for what this buys.

The library is compiled on first use against the installed TensorFlow
(`tf.sysconfig` compile and link flags, the machine's C++ compiler) into a
cache directory keyed by the TensorFlow version and a hash of the source and
flags, so concurrent processes share one build (a file lock serialises them).
`make kernels` builds it ahead of time (`build()`).
Where it cannot be built or loaded (no compiler, no headers), `library()`
returns None, the log says so once and the callers use TensorFlow's ops.

Environment:
  SLIM_SENET_CUSTOM_OPS=0   never build or load the library.
  SLIM_SENET_KERNEL_DIR     the cache directory (default
                            ~/.cache/slim_senet/kernels, else a temp dir).
  CXX                       the compiler (default g++).

Example:

    from nets.layers import se_tail
    y = se_tail.scale_add_relu(x, gates, shortcut)   # any of the two paths
"""
import contextlib
import hashlib
import logging
import os
import shlex
import subprocess
import tempfile
import threading

from runtime.tf_compat import tf

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'kernels',
                      'se_tail.cc')
DISABLE_VARIABLE = 'SLIM_SENET_CUSTOM_OPS'
DIR_VARIABLE = 'SLIM_SENET_KERNEL_DIR'
# The compiled ops' float types; others take TensorFlow's ops.
DTYPES = (tf.float32, tf.float64)

_lock = threading.Lock()
_state = {}


def _compile_command(output):
  """The compiler command line that builds `output` from `SOURCE`."""
  compiler = os.environ.get('CXX', 'g++')
  return ([compiler, '-std=c++17', '-shared', '-fPIC', '-O3',
           '-Wno-deprecated-declarations'] +
          list(tf.sysconfig.get_compile_flags()) +
          ['-o', output, SOURCE] + list(tf.sysconfig.get_link_flags()))


def _cache_dir():
  configured = os.environ.get(DIR_VARIABLE)
  if configured:
    return configured
  home = os.path.expanduser('~')
  base = (os.path.join(home, '.cache') if os.access(home, os.W_OK)
          else tempfile.gettempdir())
  return os.path.join(base, 'slim_senet', 'kernels')


def library_path():
  """Where the compiled library for this TensorFlow and source lives."""
  with open(SOURCE, 'rb') as f:
    digest = hashlib.sha256(f.read())
  digest.update(' '.join(_compile_command('')).encode())
  return os.path.join(_cache_dir(), 'se_tail-tf%s-%s.so' % (
      tf.__version__, digest.hexdigest()[:16]))


@contextlib.contextmanager
def _file_lock(path):
  import fcntl  # pylint: disable=g-import-not-at-top  (POSIX only)
  with open(path, 'a') as handle:
    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(handle, fcntl.LOCK_UN)


def build(path=None):
  """Compiles the library to `path` (default `library_path()`) unless there.

  Returns:
    The path of the library.

  Raises:
    OSError: no compiler.
    RuntimeError: the compiler failed (its output is in the message).
  """
  path = path or library_path()
  if os.path.exists(path):
    return path
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with _file_lock(path + '.lock'):
    if os.path.exists(path):  # Another process built it meanwhile.
      return path
    partial = '%s.%d.tmp' % (path, os.getpid())
    result = subprocess.run(_compile_command(partial), capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
      raise RuntimeError('compiling %s failed (%s):\n%s' % (
          SOURCE, ' '.join(map(shlex.quote, _compile_command(partial))),
          result.stderr[-4000:]))
    os.replace(partial, path)
  return path


def library():
  """The loaded op library, or None (then use TensorFlow's ops).

  The first call builds (if needed) and loads it, and registers the tail's
  gradient; a failure is logged once and not retried in this process.
  """
  with _lock:
    if 'library' not in _state:
      _state['library'] = _load()
    return _state['library']


def _load():
  if os.environ.get(DISABLE_VARIABLE, '1').strip().lower() in ('0', 'false',
                                                                'no', 'off'):
    logging.info('SE tail op off (%s=%s): TensorFlow ops are used.',
                 DISABLE_VARIABLE, os.environ[DISABLE_VARIABLE])
    return None
  try:
    loaded = tf.load_op_library(build())
  except (OSError, RuntimeError, tf.errors.OpError) as e:
    logging.warning('The SE tail op could not be built or loaded; the SE '
                    'blocks use TensorFlow ops (slower). %s', e)
    return None
  try:
    tf.RegisterGradient('SlimSenetScaleAddRelu')(_scale_add_relu_gradient)
  except KeyError:  # Registered by an earlier load in this process.
    pass
  return loaded


def available(dtype=tf.float32):
  """Whether `scale_add_relu` runs the compiled op for tensors of `dtype`."""
  return tf.as_dtype(dtype) in DTYPES and library() is not None


def _scale_add_relu_gradient(op, dy):
  """Gradients of x, gates, shortcut (TensorFlow's gradient registry)."""
  x, gates, _ = op.inputs
  d_shortcut, d_gates = library().slim_senet_scale_add_relu_grad(
      dy, op.outputs[0], x, gates)
  return (library().slim_senet_channel_affine(d_shortcut, gates,
                                              tf.zeros_like(gates)),
          d_gates, d_shortcut)


def scale_add_relu(x, gates, shortcut, name=None):
  """relu(x * gates[:, None, None, :] + shortcut), differentiable.

  One compiled op (and a registered one-pass gradient) when `available()`,
  else TensorFlow's Mul, AddV2 and Relu.

  Args:
    x: [N, H, W, C].
    gates: [N, C].
    shortcut: [N, H, W, C].
    name: op name.
  """
  if available(x.dtype):
    return library().slim_senet_scale_add_relu(x, gates, shortcut, name=name)
  return tf.nn.relu(x * gates[:, tf.newaxis, tf.newaxis, :] + shortcut,
                    name=name)


def scale_add_relu_gradients(dy, y, x, gates):
  """(d_shortcut, d_gates) of `y = scale_add_relu(x, gates, shortcut)`.

  d_shortcut = dy * (y > 0); d_gates = sum over H, W of d_shortcut * x.
  """
  if available(dy.dtype):
    return library().slim_senet_scale_add_relu_grad(dy, y, x, gates)
  d_shortcut = tf.raw_ops.ReluGrad(gradients=dy, features=y)
  return d_shortcut, tf.reduce_sum(d_shortcut * x, [1, 2])


def channel_affine(x, scale, shift):
  """x * scale[:, None, None, :] + shift[:, None, None, :], one pass."""
  if available(x.dtype):
    return library().slim_senet_channel_affine(x, scale, shift)
  return (x * scale[:, tf.newaxis, tf.newaxis, :] +
          shift[:, tf.newaxis, tf.newaxis, :])
