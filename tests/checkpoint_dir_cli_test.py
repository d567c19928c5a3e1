"""A train_dir copied, moved, or with a state file naming another directory:
training and evaluation (real subprocesses) use the directory's own
checkpoints and never touch another directory's files.

The source run's state file is rewritten with absolute paths, as TensorFlow's
savers wrote it before (and other tools still do): the worst case, where a
copy's state file names the original's checkpoints.
"""
import os
import re
import shutil
import subprocess
import sys

import pytest

from checkpointing import checkpoints
from tests import train_testlib
from tests.train_testlib import digits_dir  # pylint: disable=unused-import

pytestmark = pytest.mark.slow  # runs the scripts in subprocesses

EVAL_SCRIPT = os.path.join(train_testlib.ROOT, 'eval_image_classifier.py')
SOURCE_STEPS = 30


def _start(script, args):
  return subprocess.Popen([sys.executable, script] + list(args),
                          cwd=train_testlib.ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def _finish(process, timeout=600):
  out, err = process.communicate(timeout=timeout)
  return subprocess.CompletedProcess(process.args, process.returncode, out,
                                     err)


def _train_args(digits, train_dir, steps):
  return train_testlib.train_flags(digits, train_dir,
                                   max_number_of_steps=steps,
                                   save_interval_steps=10,
                                   log_every_n_steps=100)


def _eval_args(digits, checkpoint_path, eval_dir, *extra):
  return ['--checkpoint_path=%s' % checkpoint_path,
          '--eval_dir=%s' % eval_dir, '--dataset_name=digits',
          '--dataset_dir=%s' % digits, '--model_name=simple_cnn',
          '--eval_image_size=16', '--batch_size=360'] + list(extra)


def _snapshot(directory):
  """{file name: (size, mtime_ns)} of every file in `directory`."""
  return {name: (os.stat(os.path.join(directory, name)).st_size,
                 os.stat(os.path.join(directory, name)).st_mtime_ns)
          for name in sorted(os.listdir(directory))}


def _state_entries(directory):
  with open(os.path.join(directory, checkpoints.STATE_FILE)) as f:
    return re.findall(r'model_checkpoint_paths?: "([^"]*)"', f.read())


def _write_absolute_state(directory, steps):
  """The state file as savers wrote it before: absolute paths."""
  directory = os.path.abspath(directory)
  lines = ['model_checkpoint_path: "%s/model.ckpt-%d"' % (directory,
                                                          steps[-1])]
  lines += ['all_model_checkpoint_paths: "%s/model.ckpt-%d"' % (directory, s)
            for s in steps]
  with open(os.path.join(directory, checkpoints.STATE_FILE), 'w') as f:
    f.write('\n'.join(lines) + '\n')


def _index_steps(directory):
  return sorted(checkpoints.checkpoint_step(name[:-len('.index')])
                for name in os.listdir(directory) if name.endswith('.index'))


@pytest.fixture(scope='module')
def source_run(digits_dir, tmp_path_factory):
  """A train_dir trained to step 30 (checkpoints 0, 10, 20, 30), its state
  file then rewritten with absolute paths."""
  train_dir = str(tmp_path_factory.mktemp('source') / 'run')
  proc = train_testlib.run_script(_train_args(digits_dir, train_dir,
                                              SOURCE_STEPS))
  assert proc.returncode == 0, proc.stderr
  # What the trainer writes now: file names relative to the directory.
  entries = _state_entries(train_dir)
  assert entries and all(os.sep not in e for e in entries), entries
  steps = _index_steps(train_dir)
  assert steps == [0, 10, 20, 30]
  _write_absolute_state(train_dir, steps)
  return train_dir


def test_a_copy_resumes_from_its_own_checkpoints(digits_dir, source_run,
                                                 tmp_path):
  before = _snapshot(source_run)
  copy = str(tmp_path / 'run_copy')
  shutil.copytree(source_run, copy)
  # 60 steps more: keep-5 drops old checkpoints, as it dropped the
  # original's when the copy's state file named them.
  proc = train_testlib.run_script(_train_args(digits_dir, copy, 90))
  assert proc.returncode == 0, proc.stderr
  assert 'Resuming from %s/model.ckpt-30 (step 30)' % copy in proc.stderr
  assert re.search(
      r'the checkpoint state file of %s names checkpoints in another '
      r'directory \(e\.g\. %s/model\.ckpt-30' % (re.escape(copy),
                                                 re.escape(source_run)),
      proc.stderr), proc.stderr
  assert 'trained simple_cnn to step 90 in %s' % copy in proc.stdout

  assert _snapshot(source_run) == before  # Same names, sizes and mtimes.
  assert _index_steps(copy) == [50, 60, 70, 80, 90]
  assert _state_entries(copy) == ['model.ckpt-%d' % s
                                  for s in (90, 50, 60, 70, 80, 90)]


def test_a_moved_directory_trains_and_evaluates(digits_dir, source_run,
                                                tmp_path):
  before = _snapshot(source_run)
  original, moved = str(tmp_path / 'run'), str(tmp_path / 'moved')
  shutil.copytree(source_run, original)
  _write_absolute_state(original, _index_steps(original))
  os.rename(original, moved)  # Its state file names the original place.

  # Evaluation only reads: once, and watching, at the same time.
  evals = {
      'once': _start(EVAL_SCRIPT, _eval_args(digits_dir, moved,
                                             tmp_path / 'eval_once')),
      'watch': _start(EVAL_SCRIPT, _eval_args(
          digits_dir, moved, tmp_path / 'eval_watch', '--eval_interval_secs=1',
          '--timeout=120', '--max_number_of_evaluations=1')),
  }
  done = {name: _finish(p) for name, p in evals.items()}
  for name, proc in done.items():
    assert proc.returncode == 0, (name, proc.stderr)
    assert proc.stdout.startswith('step 30: accuracy'), (name, proc.stdout)
    assert '(%s/model.ckpt-30)' % moved in proc.stdout, (name, proc.stdout)
    assert 'names checkpoints in another directory' in proc.stderr, name
  assert _state_entries(moved)[0] == '%s/model.ckpt-30' % original

  proc = train_testlib.run_script(_train_args(digits_dir, moved, 40))
  assert proc.returncode == 0, proc.stderr
  assert 'Traceback' not in proc.stderr
  assert 'Resuming from %s/model.ckpt-30 (step 30)' % moved in proc.stderr
  assert 'trained simple_cnn to step 40 in %s' % moved in proc.stdout
  assert _index_steps(moved) == [0, 10, 20, 30, 40]
  assert _state_entries(moved) == ['model.ckpt-%d' % s
                                   for s in (40, 0, 10, 20, 30, 40)]
  assert not os.path.exists(original)
  assert _snapshot(source_run) == before


def test_a_state_file_naming_another_directory_is_refused(digits_dir,
                                                         source_run, tmp_path):
  """Only the state file, no checkpoint of those names in the directory: the
  other directory's checkpoints are neither resumed from nor cleaned up."""
  before = _snapshot(source_run)
  train_dir = str(tmp_path / 'train')
  os.makedirs(train_dir)
  shutil.copy(os.path.join(source_run, checkpoints.STATE_FILE), train_dir)
  proc = train_testlib.run_script(_train_args(digits_dir, train_dir, 90))
  assert proc.returncode == 1, proc.stderr
  errors = [l for l in proc.stderr.splitlines() if l.startswith('error:')]
  assert errors == [
      'error: the checkpoint state file %s/checkpoint names only checkpoints '
      'that are not in %s (e.g. %s/model.ckpt-30); copy them there, or '
      'remove that file to start afresh' % (train_dir, train_dir,
                                            source_run)], proc.stderr
  assert 'Traceback' not in proc.stderr
  assert sorted(os.listdir(train_dir)) == ['checkpoint']
  assert _snapshot(source_run) == before
