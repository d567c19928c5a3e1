"""Process-wide TensorFlow switches that must be set before TF is imported.

`TF_ENABLE_ONEDNN_OPTS` is read when TensorFlow loads. On x86 CPUs without
AVX-512 (this project's AMD EPYC machines) TensorFlow leaves it off, so
convolutions run as Eigen im2col + GEMM, forward and backward; with it on,
they run as oneDNN convolution primitives (measured here: ResNet-50 training
step at batch 8 about 1.3x faster, forward about the same), and the CPU
allocator becomes oneDNN's pooled one. A benchmark script cannot set it after
its imports, so `ensure_onednn` re-executes the script once with the variable
set. An explicit value in the environment always wins.

Example (first thing in a script's main):

    process_env.ensure_onednn(FLAGS.onednn, 'benchmarks.bench_models')
"""
import os
import sys

ONEDNN_ENV_VAR = 'TF_ENABLE_ONEDNN_OPTS'


def onednn_enabled():
  """Whether this process's TensorFlow runs oneDNN ops (None if unknown)."""
  try:
    from tensorflow.python.util import _pywrap_util_port  # pylint: disable=g-import-not-at-top
    return bool(_pywrap_util_port.IsMklEnabled())
  except (ImportError, AttributeError):
    return None


def ensure_onednn(wanted, module):
  """Re-executes `python -m module <same args>` with oneDNN on or off.

  Does nothing if `TF_ENABLE_ONEDNN_OPTS` is already in the environment (a
  user's choice, or the re-executed process).

  Args:
    wanted: True for oneDNN ops, False for TensorFlow's own kernels.
    module: the running script's module name, e.g. 'benchmarks.bench_models'.
  """
  if ONEDNN_ENV_VAR in os.environ:
    return
  env = dict(os.environ)
  env[ONEDNN_ENV_VAR] = '1' if wanted else '0'
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env['PYTHONPATH'] = os.pathsep.join(
      p for p in (root, env.get('PYTHONPATH')) if p)
  sys.stdout.flush()
  sys.stderr.flush()
  os.execve(sys.executable, [sys.executable, '-m', module] + sys.argv[1:],
            env)
