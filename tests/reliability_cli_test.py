"""Bad input and faults through the real scripts (subprocesses): one `error:`
line naming the file and what to do, no traceback, a non-zero exit.

A file that is not a checkpoint, an unwritable --train_dir, a loss that
diverges without overflowing, an eval watch that never sees a checkpoint, and
a warm start whose fix is a flag.
"""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from checkpointing import checkpoints
from nets import nets_factory
from runtime.tf_compat import tf, v1
from tests import train_testlib
from tests.train_testlib import digits_dir  # pylint: disable=unused-import

pytestmark = pytest.mark.slow  # runs the scripts in subprocesses

EVAL_SCRIPT = os.path.join(train_testlib.ROOT, 'eval_image_classifier.py')


def _start(args, script=train_testlib.SCRIPT, prefix=()):
  return subprocess.Popen(list(prefix) + [sys.executable, script] + list(args),
                          cwd=train_testlib.ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def _finish_all(processes, timeout=600):
  done = {}
  for name, process in processes.items():
    out, err = process.communicate(timeout=timeout)
    done[name] = subprocess.CompletedProcess(process.args, process.returncode,
                                             out, err)
  return done


def _error_line(proc):
  """The one stderr line that is not a log line; fails unless there is
  exactly one and it starts with 'error: '."""
  lines = [l for l in proc.stderr.splitlines()
           if l.strip() and not re.match(r'^([IWEF]\d{4} |WARNING:|INFO:|'
                                         r'ERROR:tensorflow)', l)]
  assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr
  assert 'Traceback' not in proc.stderr
  return lines[0]


def _eval_args(digits, checkpoint_path, eval_dir, *extra):
  return ['--checkpoint_path=%s' % checkpoint_path,
          '--eval_dir=%s' % eval_dir, '--dataset_name=digits',
          '--dataset_dir=%s' % digits, '--model_name=simple_cnn',
          '--eval_image_size=16'] + list(extra)


def _not_a_checkpoint(prefix):
  """Random bytes where a checkpoint's .index and data file should be."""
  os.makedirs(os.path.dirname(prefix), exist_ok=True)
  rng = np.random.RandomState(0)
  for suffix in ('.index', '.data-00000-of-00001'):
    with open(prefix + suffix, 'wb') as f:
      f.write(rng.bytes(300))


def _write_resumable_checkpoint(prefix):
  """What a simple_cnn run with sgd saves: the model and the global step."""
  with tf.Graph().as_default():
    nets_factory.get_network_fn('simple_cnn', 10, is_training=True)(
        tf.zeros([1, 16, 16, 3]))
    v1.train.get_or_create_global_step()
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      v1.train.Saver(checkpoints.slim_named_variables(v1.global_variables())).save(
          session, prefix, write_meta_graph=False)


def _damage_data(prefix):
  """Random bytes in place of a real checkpoint's data file (its index, and
  so its names and shapes, stay good)."""
  data = prefix + '.data-00000-of-00001'
  size = os.path.getsize(data)
  with open(data, 'wb') as f:
    f.write(np.random.RandomState(1).bytes(size))


def test_a_file_that_is_not_a_checkpoint(digits_dir, tmp_path):
  bad = str(tmp_path / 'bad' / 'model.ckpt')
  _not_a_checkpoint(bad)
  # A train_dir whose newest checkpoint is such a file.
  resume_dir = str(tmp_path / 'resume')
  _not_a_checkpoint(os.path.join(resume_dir, 'model.ckpt-10'))
  with open(os.path.join(resume_dir, 'checkpoint'), 'w') as f:
    f.write('model_checkpoint_path: "model.ckpt-10"\n')
  # A good index with a damaged data file, to resume from and to evaluate.
  damaged_dir = str(tmp_path / 'damaged')
  damaged = os.path.join(damaged_dir, 'model.ckpt-10')
  _write_resumable_checkpoint(damaged)
  _damage_data(damaged)
  with open(os.path.join(damaged_dir, 'checkpoint'), 'w') as f:
    f.write('model_checkpoint_path: "model.ckpt-10"\n')
  done = _finish_all({
      'warm start': _start(train_testlib.train_flags(
          digits_dir, str(tmp_path / 'train'), max_number_of_steps=2,
          checkpoint_path=bad)),
      'resume': _start(train_testlib.train_flags(
          digits_dir, resume_dir, max_number_of_steps=12)),
      'eval': _start(_eval_args(digits_dir, bad, tmp_path / 'eval'),
                     script=EVAL_SCRIPT),
      'resume, damaged data': _start(train_testlib.train_flags(
          digits_dir, damaged_dir, max_number_of_steps=12)),
      'eval, damaged data': _start(
          _eval_args(digits_dir, damaged_dir, tmp_path / 'eval2'),
          script=EVAL_SCRIPT),
  })
  for name, path in (('warm start', bad), ('eval', bad),
                     ('resume', os.path.join(resume_dir, 'model.ckpt-10'))):
    proc = done[name]
    assert proc.returncode == 1, (name, proc.stderr)
    line = _error_line(proc)
    assert line.startswith(
        'error: %s is not a TensorFlow checkpoint (not an sstable (bad magic '
        'number)): ' % path), (name, line)
  for name in ('resume, damaged data', 'eval, damaged data'):
    proc = done[name]
    assert proc.returncode == 1, (name, proc.stderr)
    line = _error_line(proc)
    assert line.startswith(
        'error: %s is not a TensorFlow checkpoint (data file ' % damaged), (
            name, line)
    assert 'Checksum does not match' in line and len(line) < 400, line
  for name in ('resume', 'resume, damaged data'):
    assert 'use a new --train_dir' in _error_line(done[name])
  assert 'pass the prefix of a checkpoint' in _error_line(done['eval'])


def _unprivileged_prefix():
  """A command prefix that runs without the right to ignore file permissions.

  As root: `setpriv` drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the
  bounding set, so the child (still uid 0, still able to read the root-owned
  interpreter and repository) is refused a directory without write permission
  like any user. Skips if that is impossible here.
  """
  if os.geteuid() != 0:
    return []
  setpriv = shutil.which('setpriv')
  prefix = [setpriv, '--bounding-set=-dac_override,-dac_read_search']
  if not setpriv or subprocess.run(prefix + ['true']).returncode != 0:
    pytest.skip('running as root without setpriv: permissions not enforced')
  return prefix


def test_an_unwritable_train_dir_is_refused_before_the_graph(digits_dir,
                                                            tmp_path):
  prefix = _unprivileged_prefix()
  locked = tmp_path / 'locked'
  locked.mkdir()
  locked.chmod(0o555)
  try:
    runs = {str(locked): str(locked),  # Exists, not writable.
            str(locked / 'new' / 'run'): str(locked)}  # Cannot be created.
    done = _finish_all({
        train_dir: _start(train_testlib.train_flags(
            digits_dir, train_dir, max_number_of_steps=2), prefix=prefix)
        for train_dir in runs})
  finally:
    locked.chmod(0o755)
  for train_dir, proc in done.items():
    assert proc.returncode == 2, (train_dir, proc.stderr)
    line = _error_line(proc)
    assert line.startswith('error: --train_dir=%s is not writable (' %
                           train_dir), line
    assert 'Permission denied' in line and str(locked) in line, line
    assert 'Training simple_cnn' not in proc.stderr  # No graph was built.
  assert os.listdir(locked) == []


def test_a_finite_divergence_stops_at_the_last_good_checkpoint(digits_dir,
                                                              tmp_path):
  diverging = dict(optimizer='rmsprop', learning_rate=1e6,
                   max_number_of_steps=60, save_interval_steps=5)
  train_dir = str(tmp_path / 'train')
  unguarded_dir = str(tmp_path / 'unguarded')
  done = _finish_all({
      'guarded': _start(train_testlib.train_flags(digits_dir, train_dir,
                                                  **diverging)),
      'unguarded': _start(train_testlib.train_flags(
          digits_dir, unguarded_dir, divergence_factor=0,
          **dict(diverging, max_number_of_steps=15))),
  })
  proc = done['guarded']
  assert proc.returncode == 1, proc.stderr
  line = _error_line(proc)
  match = re.match(
      r'error: the loss diverged: (\S+) at step (\d+), above 100 times its '
      r'first value \((\S+) at step 1\) for 10 steps in a row '
      r'\(--divergence_factor=100; 0 turns this check off\); training '
      r'stopped\. The last good checkpoint is (\S+) \(step (\d+)\)\. Lower '
      r'--learning_rate \(now 1e\+06\), or check the data\.$', line)
  assert match, line
  loss, step, first_loss = (float(match.group(1)), int(match.group(2)),
                            float(match.group(3)))
  good_path, good_step = match.group(4), int(match.group(5))
  assert np.isfinite(loss) and loss > 100 * first_loss
  assert step <= 20  # Stopped early, not at step 60.
  # Every checkpoint left is older than the high losses; the newest of them
  # is the state file's latest.
  assert checkpoints.latest_checkpoint(train_dir) == good_path
  steps = sorted(checkpoints.checkpoint_step(n[:-len('.index')])
                 for n in os.listdir(train_dir) if n.endswith('.index'))
  assert steps and steps[-1] == good_step < step - 10
  values = train_testlib.read_checkpoint(good_path)
  assert values['global_step'] == good_step

  # --divergence_factor=0: the same run goes on, as it used to.
  proc = done['unguarded']
  assert proc.returncode == 0, proc.stderr
  assert 'trained simple_cnn to step 15' in proc.stdout
  last_loss = float(re.search(r'last loss (\S+),', proc.stdout).group(1))
  assert last_loss > 1e3


def test_eval_watch_without_a_checkpoint_fails_at_its_timeout(digits_dir,
                                                             tmp_path):
  watched = tmp_path / 'train'
  watched.mkdir()
  done = _finish_all({'watch': _start(
      _eval_args(digits_dir, watched, tmp_path / 'eval',
                 '--eval_interval_secs=1', '--timeout=2'),
      script=EVAL_SCRIPT)})
  proc = done['watch']
  assert proc.returncode == 1, proc.stderr
  assert _error_line(proc) == (
      'error: no checkpoint appeared in %s within --timeout=2 s: is training '
      'writing to this directory (its --train_dir)?' % watched)
  assert not proc.stdout


def test_warm_start_mismatch_suggests_the_flag_that_fits(digits_dir,
                                                         tmp_path):
  tiny = dict(depth_multiplier=0.125)
  plain = str(tmp_path / 'plain' / 'model.ckpt')  # resnet_v1_14, 10 classes.
  train_testlib.write_model_checkpoint(plain, 'resnet_v1_14', 10,
                                       image_size=16, **tiny)
  five = str(tmp_path / 'five' / 'model.ckpt')  # resnet_v1_14, 5 classes.
  train_testlib.write_model_checkpoint(five, 'resnet_v1_14', 5,
                                       image_size=16, **tiny)
  common = dict(max_number_of_steps=1, depth_multiplier=0.125)
  done = _finish_all({
      'scope': _start(train_testlib.train_flags(
          digits_dir, str(tmp_path / 'a'), model_name='se_resnet_v1_14',
          checkpoint_path=plain, **common)),
      'logits': _start(train_testlib.train_flags(
          digits_dir, str(tmp_path / 'b'), model_name='resnet_v1_14',
          checkpoint_path=five, **common)),
  })
  for proc in done.values():
    assert proc.returncode == 1, proc.stderr
  assert _error_line(done['scope']).startswith(
      'error: Checkpoint %s does not fit the model (to fix it, pass '
      '--checkpoint_model_scope=resnet_v1_14: the names differ only by their '
      'top scope, se_resnet_v1_14 in the model and resnet_v1_14 in the '
      'checkpoint): ' % plain)
  assert _error_line(done['logits']).startswith(
      'error: Checkpoint %s does not fit the model (to fix it, pass '
      '--checkpoint_exclude_scopes=resnet_v1_14/logits to leave it freshly '
      'initialised): shape mismatch for resnet_v1_14/logits/weights: '
      'checkpoint [1, 1, 256, 5], model [1, 1, 256, 10]' % five)
