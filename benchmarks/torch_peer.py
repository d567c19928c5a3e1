"""The benchmark's PyTorch peer: timm's networks, timed in the same rounds as ours.

torch is not a dependency of this project and often lives in another virtualenv, so the
peer runs in a child process of a Python that has torch and timm
(`benchmarks/torch_peer_worker.py`): the child builds the model and runs one step per
request on a pipe, and `build()` wraps it in a `model_variants.Built` whose `step()` sends
the request and waits for the answer. The parent's clock times it like any TensorFlow
session, in the same interleaved rounds; while the child steps, the parent and every
TensorFlow session are idle, and the other way round. Which Python: `--torch_python`,
else $SLIM_SENET_TORCH_PYTHON, else this process's own if it can import torch and timm;
with none, the peer is skipped and the report says why.

The child uses as many threads as our sessions' intra-op pool (torch.set_num_threads; one
inter-op thread, as our sessions), OMP_WAIT_POLICY=PASSIVE unless the environment sets it
(busy-waiting OpenMP threads are several times slower on a shared machine), and keeps the
faster of NCHW and channels_last, timed on a few steps of its own before the rounds.

Example:

    python = torch_peer.find_python('/path/to/torchenv/bin/python')   # or None
    with torch_peer.build(variant, 'train', 8, 224, threads=2, num_classes=1000,
                          python=python) as built:
      built.step()
"""
import functools
import importlib.util
import json
import os
import subprocess
import sys

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      'torch_peer_worker.py')
ENV_VAR = 'SLIM_SENET_TORCH_PYTHON'
READY_TIMEOUT_SECONDS = 1800


class TorchPeerError(RuntimeError):
  """The torch child failed to start or to step."""


def _can_import_torch(python):
  try:
    proc = subprocess.run([python, '-c', 'import torch, timm'], capture_output=True,
                          text=True, timeout=600, check=False)
  except (OSError, subprocess.TimeoutExpired):
    return False
  return proc.returncode == 0


@functools.lru_cache(maxsize=None)
def find_python(explicit=None):
  """(python, None) for a Python with torch and timm, or (None, why not).

  Looked up once per argument and process (it starts a Python to check).
  """
  if explicit:
    if _can_import_torch(explicit):
      return explicit, None
    return None, '--torch_python=%s cannot import torch and timm' % explicit
  from_env = os.environ.get(ENV_VAR)
  if from_env:
    if _can_import_torch(from_env):
      return from_env, None
    return None, '%s=%s cannot import torch and timm' % (ENV_VAR, from_env)
  if (importlib.util.find_spec('torch') is not None and
      importlib.util.find_spec('timm') is not None):
    return sys.executable, None
  return None, ('torch/timm are not importable here; pass --torch_python=/path/to/'
                'venv/bin/python or set %s' % ENV_VAR)


class _Child(object):
  """The worker process; `step()` runs one step in it."""

  def __init__(self, python, model, mode, batch_size, image_size, threads,
               num_classes):
    command = [python, WORKER, '--model=%s' % model, '--mode=%s' % mode,
               '--batch_size=%d' % batch_size, '--image_size=%d' % image_size,
               '--threads=%d' % threads, '--num_classes=%d' % num_classes]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    # OpenMP threads that busy-wait at every barrier lose whole time slices
    # when another process holds a core: on this project's shared 2-core
    # machines a 2-thread torch step took 0.67 s spinning and 0.05 s passive.
    # TensorFlow's own thread pool does not spin that way, so the peer waits
    # passively too unless the environment says otherwise.
    env.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, bufsize=1, env=env)
    line = self._proc.stdout.readline()
    if not line:
      self._proc.wait(timeout=READY_TIMEOUT_SECONDS)
      raise TorchPeerError('the torch peer (%s) exited with code %s: %s' % (
          ' '.join(command), self._proc.returncode, self._proc.stderr.read()[-2000:]))
    # What the child says about itself; close() adds its peak resident memory.
    self.info = json.loads(line)

  def step(self):
    self._proc.stdin.write('step\n')
    self._proc.stdin.flush()
    answer = self._proc.stdout.readline()
    if answer != 'ok\n':
      raise TorchPeerError('the torch peer failed a step: %r %s' % (
          answer, self._proc.stderr.read()[-2000:] if self._proc.poll() is not None
          else ''))

  def close(self):
    if self._proc.poll() is None:
      try:
        self._proc.stdin.write('quit\n')
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if line:
          self.info['peak_rss_mb'] = json.loads(line).get('peak_rss_mb')
        self._proc.wait(timeout=60)
      except (OSError, ValueError, subprocess.TimeoutExpired):
        self._proc.kill()
        self._proc.wait()
    for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
      stream.close()


def build(variant, mode, batch_size, image_size, threads, num_classes, python):
  """Starts the child for `variant` (a model_variants torch peer); returns a Built."""
  from benchmarks import model_variants  # pylint: disable=g-import-not-at-top
  child = _Child(python, model_variants.timm_model(variant), mode, batch_size,
                 image_size, threads, num_classes)
  built = model_variants.Built(
      variant, mode, batch_size, None, None, None,
      child.info['multiply_adds_per_step'], 0, step_fn=child.step,
      close_fn=child.close)
  built.peer_info = child.info
  return built
