"""eval_image_classifier.py as a real subprocess: once, the watch loop, and
bad input (one `error:` line, exit code 1).

The script prints a user error through `script_util.run_reporting_errors`
(one line, exit code 1); the subprocess cases show that end to end, the
in-process cases the other messages.
"""
import dataclasses
import io
import json
import os
import threading
import time

import pytest

from evaluation import evaluator
from runtime import script_util
from tests import eval_testlib as tl

pytestmark = pytest.mark.slow  # runs the scripts in subprocesses

LOOP_TIMEOUT_SECS = 6


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  return tl.shared_checkpoint(tmp_path_factory)


def _eval_args(data, checkpoint_path, eval_dir, *extra):
  return (['eval_image_classifier.py', '--checkpoint_path=%s' % checkpoint_path,
           '--eval_dir=%s' % eval_dir, '--dataset_name=digits',
           '--dataset_dir=%s' % data, '--eval_image_size=32',
           '--batch_size=64'] + tl.TINY_FLAGS + list(extra))


def _finish(process, timeout=300):
  stdout, stderr = process.communicate(timeout=timeout)
  return process.returncode, stdout, stderr


def test_once_and_another_models_checkpoint(trained, tmp_path):
  data, checkpoint = trained
  runs = {  # Both run at once.
      'ok': _eval_args(data, os.path.dirname(checkpoint), tmp_path / 'ok',
                       '--intra_op_parallelism_threads=1',
                       '--inter_op_parallelism_threads=1'),
      'other model': _eval_args(data, checkpoint, tmp_path / 'e2',
                                '--model_name=resnet_v1_14'),
  }
  processes = {name: tl.start_script(args) for name, args in runs.items()}
  done = {name: _finish(p) for name, p in processes.items()}

  code, stdout, stderr = done['ok']
  assert code == 0, stderr
  assert stdout.startswith('step 100: accuracy')
  assert '360 examples of digits/test' in stdout
  with open(tmp_path / 'ok' / 'eval_results.json') as f:
    result = json.load(f)
  assert result['num_examples'] == 360 and result['global_step'] == 100
  assert result['checkpoint_path'] == checkpoint
  assert result['preprocessing_name'] == 'digits'  # the dataset's default

  code, stdout, stderr = done['other model']
  assert code == 1, stderr
  assert stderr.splitlines() == [
      'error: checkpoint %s does not hold a resnet_v1_14: its variables are '
      "under se_resnet_v1_14, the model's under resnet_v1_14; pass "
      '--model_name=se_resnet_v1_14' % checkpoint]
  assert not stdout


def _reported(config):
  """What the script prints for `config`: (exit code, stderr text)."""
  stream = io.StringIO()
  code = script_util.run_reporting_errors(
      lambda: evaluator.evaluate_once(config), stream=stream)
  return code, stream.getvalue()


def test_no_checkpoint_and_unknown_split_are_one_line_errors(trained,
                                                             tmp_path):
  data, checkpoint = trained
  (tmp_path / 'empty').mkdir()
  config = evaluator.EvalConfig(
      checkpoint_path=str(tmp_path / 'empty'), eval_dir=str(tmp_path / 'e'),
      dataset_name='digits', dataset_dir=data, model=tl.tiny_config())
  assert _reported(config) == (
      1, 'error: No checkpoint found in directory %s\n' % (tmp_path / 'empty'))
  config = dataclasses.replace(config, checkpoint_path=checkpoint,
                               dataset_split_name='validation')
  assert _reported(config) == (
      1, "error: dataset 'digits' has no split 'validation'; valid splits: "
      'test, train\n')


def _collect(stream, lines):
  for line in stream:
    lines.append(line)


def test_loop_evaluates_a_new_checkpoint_then_stops_at_its_timeout(
    trained, tmp_path):
  data, _ = trained
  watched = tmp_path / 'train'
  watched.mkdir()
  process = tl.start_script(_eval_args(
      data, watched, tmp_path / 'eval', '--eval_interval_secs=1',
      '--timeout=%d' % LOOP_TIMEOUT_SECS))
  stderr_lines = []
  reader = threading.Thread(target=_collect,
                            args=(process.stderr, stderr_lines), daemon=True)
  reader.start()

  def wait_until_watching():
    deadline = time.time() + 240
    while not any('Watching %s for new checkpoints' % watched in line
                  for line in stderr_lines):
      assert process.poll() is None, ''.join(stderr_lines)
      assert time.time() < deadline, ''.join(stderr_lines)
      time.sleep(0.1)

  try:
    # A few real training steps while the evaluator starts; the checkpoint
    # is saved only once the loop is watching.
    checkpoint = tl.train_checkpoint(watched, data, tl.tiny_config(),
                                     steps=3, before_save=wait_until_watching)
    # When the evaluator could first see it: the state file it polls (the
    # saver writes it last; train_checkpoint returns later, after closing
    # its session, which takes a while on a loaded machine).
    written = os.path.getmtime(watched / 'checkpoint')
    stdout = process.stdout.read()
    process.wait(timeout=240)
    waited = time.time() - written
  finally:
    if process.poll() is None:
      process.kill()
  reader.join(timeout=10)
  assert process.returncode == 0, ''.join(stderr_lines)
  assert stdout.startswith('step 3: accuracy') and len(stdout.splitlines()) == 1
  assert waited >= LOOP_TIMEOUT_SECS
  with open(tmp_path / 'eval' / 'eval_results.json') as f:
    result = json.load(f)
  assert result['checkpoint_path'] == checkpoint
  assert result['num_examples'] == 360
