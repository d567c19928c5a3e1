"""train_image_classifier.py as a real subprocess: bad flags, resume, crash
safety (SIGKILL), NaN guard."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

import numpy as np

from checkpointing import checkpoints
from runtime.tf_compat import tf
from tests import train_testlib
from tests.train_testlib import digits_dir  # pylint: disable=unused-import

pytestmark = pytest.mark.slow  # runs the trainer in subprocesses


def _error_lines(proc):
  """stderr lines that are not absl/TF log lines."""
  return [l for l in proc.stderr.splitlines()
          if l.strip() and not re.match(r'^[IWE]\d{4} ', l)]


def test_bad_flags_exit_with_one_clear_line(digits_dir, tmp_path):
  train_dir = str(tmp_path / 'train')
  cases = {
      'model': (dict(model_name='resnet_v1_7'),
                "unknown network name 'resnet_v1_7'; valid names:"),
      'dataset': (dict(dataset_name='cifar100'),
                  "unknown dataset 'cifar100'; valid datasets: cifar10, "
                  'digits'),
      'optimizer': (dict(optimizer='lamb'),
                    "--optimizer: unknown optimizer 'lamb'; valid optimizers:"
                    ' adadelta, adagrad, adam, ftrl, momentum, rmsprop, sgd'),
      'decay': (dict(learning_rate_decay_type='cosine'),
                "unknown type 'cosine'; valid types: fixed, exponential, "
                'polynomial'),
      'dataset_dir': (dict(dataset_dir=None), '--dataset_dir is required'),
  }
  procs = {}
  for name, (overrides, _) in cases.items():
    flags = dict(dict(dataset_dir=digits_dir), **overrides)
    args = train_testlib.train_flags(flags.pop('dataset_dir'), train_dir,
                                     **flags)
    procs[name] = subprocess.Popen(
        [sys.executable, train_testlib.SCRIPT] + args, cwd=train_testlib.ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  for name, (_, expected) in cases.items():
    out, err = procs[name].communicate(timeout=600)
    proc = subprocess.CompletedProcess([], procs[name].returncode, out, err)
    assert proc.returncode == 2, (name, err)
    lines = _error_lines(proc)
    assert len(lines) == 1, (name, err)
    assert lines[0].startswith('error: '), (name, lines)
    assert expected.lower() in lines[0].lower(), (name, lines[0])
    assert 'Traceback' not in err
  assert not os.path.exists(train_dir)


def test_resume_continues_and_does_not_warm_start_again(digits_dir, tmp_path):
  train_dir = str(tmp_path / 'train')
  # A checkpoint of the same model with other values: were it restored, the
  # weights would jump to it.
  other = train_testlib.write_model_checkpoint(
      str(tmp_path / 'other' / 'model.ckpt'), 'simple_cnn', 10, image_size=16,
      seed=7)
  first = train_testlib.run_script(train_testlib.train_flags(
      digits_dir, train_dir, max_number_of_steps=4))
  assert first.returncode == 0, first.stderr
  assert 'trained simple_cnn to step 4' in first.stdout
  step4 = train_testlib.read_checkpoint(os.path.join(train_dir,
                                                     'model.ckpt-4'))

  second = train_testlib.run_script(train_testlib.train_flags(
      digits_dir, train_dir, max_number_of_steps=8,
      checkpoint_path=str(tmp_path / 'other' / 'model.ckpt')))
  assert second.returncode == 0, second.stderr
  assert re.search(r'Resuming from \S+model\.ckpt-4 \(step 4\); '
                   r'--checkpoint_path ignored', second.stderr), second.stderr
  assert 'Restored' not in second.stderr
  assert re.search(r'step 5: loss', second.stderr)  # First step run: 5.
  assert 'trained simple_cnn to step 8' in second.stdout
  step8 = train_testlib.read_checkpoint(tf.train.latest_checkpoint(train_dir))
  assert step8['global_step'] == 8
  name = 'simple_cnn/logits/weights'
  to_step4 = np.abs(step8[name] - step4[name]).max()
  to_other = np.abs(step8[name] - other[name]).max()
  assert 0 < to_step4 < to_other / 3, (to_step4, to_other)


def _wait_for_step(train_dir, step, proc, timeout=120):
  deadline = time.time() + timeout
  while time.time() < deadline:
    latest = tf.train.latest_checkpoint(train_dir)
    if latest and checkpoints.checkpoint_step(latest) >= step:
      return
    assert proc.poll() is None, proc.stderr.read()
    time.sleep(0.05)
  raise AssertionError('no checkpoint of step %d in %ds' % (step, timeout))


def test_sigkill_leaves_a_readable_checkpoint_to_resume_from(digits_dir,
                                                              tmp_path):
  train_dir = str(tmp_path / 'train')
  proc = train_testlib.start_script(train_testlib.train_flags(
      digits_dir, train_dir, max_number_of_steps=1000000,
      save_interval_steps=1, log_every_n_steps=1000))
  try:
    _wait_for_step(train_dir, 5, proc)
    time.sleep(0.2)  # Mid-run, likely mid-save: a save every step.
  finally:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
  assert proc.returncode == -signal.SIGKILL
  latest = tf.train.latest_checkpoint(train_dir)
  killed_at = checkpoints.checkpoint_step(latest)
  values = train_testlib.read_checkpoint(latest)  # Readable, complete.
  assert values['global_step'] == killed_at >= 5
  assert train_testlib.all_finite(values)

  resumed = train_testlib.run_script(train_testlib.train_flags(
      digits_dir, train_dir, max_number_of_steps=killed_at + 3))
  assert resumed.returncode == 0, resumed.stderr
  assert 'Resuming from %s (step %d)' % (latest, killed_at) in resumed.stderr
  assert 'trained simple_cnn to step %d' % (killed_at + 3) in resumed.stdout


def test_nan_loss_stops_with_the_last_good_checkpoint(digits_dir, tmp_path):
  train_dir = str(tmp_path / 'train')
  proc = train_testlib.run_script(train_testlib.train_flags(
      digits_dir, train_dir, learning_rate=1e4, max_number_of_steps=100,
      save_interval_steps=1))
  assert proc.returncode == 1, proc.stderr
  lines = _error_lines(proc)
  assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr
  match = re.search(r'the loss is (?:nan|inf) at step (\d+); training '
                    r'stopped\. The last good checkpoint is (\S+) '
                    r'\(step (\d+)\)\. Lower --learning_rate', lines[0])
  assert match, lines[0]
  bad_step, good_path, good_step = (int(match.group(1)), match.group(2),
                                    int(match.group(3)))
  # The loss of step k comes from the weights saved at step k - 1: those are
  # bad too; the newest checkpoint left is the one before.
  assert good_step == bad_step - 2 >= 0
  assert tf.train.latest_checkpoint(train_dir) == good_path
  steps = sorted(checkpoints.checkpoint_step(p[:-len('.index')])
                 for p in tf.io.gfile.glob(
                     os.path.join(train_dir, 'model.ckpt-*.index')))
  assert steps[-1] == good_step
  values = train_testlib.read_checkpoint(good_path)
  assert values['global_step'] == good_step
  assert train_testlib.all_finite(values)
