"""Bad input through the real scripts: one `error:` line, the right exit code.

Bad flags exit 2 before TensorFlow is imported (checked with a marker the
child process writes at exit: whether `tensorflow` is in `sys.modules`); bad
TFRecords (a truncated file, a label out of range, an undecodable image) are
named by file and record index, or skipped with --skip_bad_records; a hostile
pickle names its archive member, a random archive is one line.
"""
import io
import os
import pickle
import re
import subprocess
import sys
import tarfile

import pytest

from tests import bad_records_testlib as bad_records
from tests import train_testlib
from tests.train_testlib import digits_dir  # pylint: disable=unused-import

pytestmark = pytest.mark.slow  # runs the scripts in subprocesses

ROOT = train_testlib.ROOT
# Runs a script as __main__ and reports at exit whether TensorFlow was loaded.
_WRAPPER = (
    'import atexit, runpy, sys\n'
    'atexit.register(lambda: sys.stderr.write("TENSORFLOW_LOADED=%s\\n" % '
    '("tensorflow" in sys.modules)))\n'
    'if sys.argv[1] == "-m":\n'
    '  sys.argv = sys.argv[2:]\n'
    '  runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)\n'
    'else:\n'
    '  sys.argv = sys.argv[1:]\n'
    '  runpy.run_path(sys.argv[0], run_name="__main__")\n')


def _start(args, wrapped=False):
  prefix = ['-c', _WRAPPER] if wrapped else []
  return subprocess.Popen([sys.executable] + prefix + list(args), cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)


def _finish(proc, timeout=600):
  out, err = proc.communicate(timeout=timeout)
  return proc.returncode, out, err


def _error_lines(err):
  """stderr lines that are not absl/TF log lines or our marker."""
  return [l for l in err.splitlines()
          if l.strip() and not re.match(r'^[IWEF]\d{4} ', l)
          and not l.startswith('TENSORFLOW_LOADED=')]


def _assert_exit_2_before_tensorflow(cases):
  """Runs every {name: (args, expected)} case in parallel; each must exit 2
  with one `error:` line containing `expected`, TensorFlow never imported."""
  procs = {name: _start(args, wrapped=True)
           for name, (args, _) in cases.items()}
  for name, (_, expected) in cases.items():
    code, _, err = _finish(procs[name])
    assert code == 2, (name, err)
    assert 'TENSORFLOW_LOADED=False' in err, (name, err)
    lines = _error_lines(err)
    assert len(lines) == 1 and lines[0].startswith('error: '), (name, err)
    assert expected.lower() in lines[0].lower(), (name, lines[0])


def test_bad_flags_exit_2_before_tensorflow_is_imported(tmp_path):
  data = str(tmp_path / 'data')
  out = str(tmp_path / 'out')
  train = ['train_image_classifier.py', '--dataset_name=digits',
           '--dataset_dir=' + data, '--train_dir=' + out]
  evaluate = ['eval_image_classifier.py', '--dataset_name=digits',
              '--dataset_dir=' + data, '--checkpoint_path=' + out,
              '--eval_dir=' + out]
  export = ['export_inference_graph.py', '--output_file=%s/g.pb' % out]
  convert = ['download_and_convert_data.py', '--dataset_dir=' + data]
  cases = {
      'train enum': (train + ['--layer_style=bogus'],
                     'flag --layer_style=bogus: value should be one of'),
      'train int': (train + ['--batch_size=abc'], 'flag --batch_size=abc'),
      'train own check': (train + ['--optimizer=lamb'],
                          "--optimizer: unknown optimizer 'lamb'"),
      'train model': (train + ['--model_name=resnet_v1_7'],
                      "unknown network name 'resnet_v1_7'"),
      'train se option': (train + ['--model_name=resnet_v1_14',
                                   '--se_ratio=4'],
                          'has no squeeze-and-excitation blocks'),
      'eval enum': (evaluate + ['--se_placement=middle'],
                    'flag --se_placement=middle'),
      'eval model': (evaluate + ['--model_name=resnet_v1_7'],
                     "unknown network name 'resnet_v1_7'"),
      'eval split': (evaluate + ['--dataset_split_name=valid'],
                     "dataset 'digits' has no split 'valid'"),
      'eval required': (evaluate[:3], 'flag --checkpoint_path=None'),
      'export model': (export + ['--model_name=resnet_v1_7'],
                       "unknown network name 'resnet_v1_7'"),
      'export enum': (export + ['--layer_style=bogus'],
                      'flag --layer_style=bogus'),
      'export dataset': (export + ['--dataset_name=cifar100'],
                         "unknown dataset 'cifar100'"),
      'convert enum': (convert + ['--dataset_name=cifar100'],
                       'flag --dataset_name=cifar100'),
      'convert option': (convert + ['--dataset_name=digits',
                                    '--num_validation=3'],
                         '--num_validation is for --dataset_name=flowers'),
  }
  _assert_exit_2_before_tensorflow(cases)
  assert not os.path.exists(out) and not os.path.exists(data)


def test_the_nets_command_lines_exit_2_before_tensorflow_is_imported():
  cases = {
      'summary enum': (['-m', 'diagnostics.model_summary', '--style=bogus'],
                       'flag --style=bogus'),
      'summary model': (['-m', 'diagnostics.model_summary',
                         '--model_name=resnet_v1_7'],
                        "unknown network name 'resnet_v1_7'"),
      'distance plain': (['-m', 'diagnostics.warm_start_distance',
                          '--model_name=resnet_v1_50'],
                         '--model_name=resnet_v1_50 is not an SE network'),
      'inspect enum': (['-m', 'diagnostics.inspect_checkpoint',
                        '--checkpoint_path=x', '--layer_style=bogus'],
                       'flag --layer_style=bogus'),
      'inspect required': (['-m', 'diagnostics.inspect_checkpoint'],
                           'flag --checkpoint_path=None'),
  }
  _assert_exit_2_before_tensorflow(cases)


# ---- bad TFRecords ----------------------------------------------------------

def _train(dataset_dir, train_dir, *extra):
  return _start([train_testlib.SCRIPT] + train_testlib.train_flags(
      dataset_dir, train_dir, max_number_of_steps=12,
      log_every_n_steps=100) + list(extra))


def _eval(dataset_dir, checkpoint, eval_dir, *extra):
  return _start(['eval_image_classifier.py', '--dataset_name=digits',
                 '--dataset_dir=' + dataset_dir, '--model_name=simple_cnn',
                 '--eval_image_size=16', '--batch_size=16',
                 '--checkpoint_path=' + checkpoint,
                 '--eval_dir=' + eval_dir] + list(extra))


def test_bad_records_are_named_by_file_and_index_or_skipped(digits_dir,
                                                            tmp_path):
  small = lambda name, *edits: bad_records.small_digits(
      digits_dir, tmp_path / name, *edits)
  good = small('good')
  data = {
      'truncated': small('truncated', bad_records.truncated(50),
                         bad_records.truncated(30)),
      'label': small('label', bad_records.bad_label(41),
                     bad_records.bad_label(33)),
      'image': small('image', bad_records.bad_image(45),
                     bad_records.bad_image(27)),
      'both': small('both', bad_records.bad_label_and_image(3, 60),
                    bad_records.bad_label_and_image(5, 39)),
  }
  checkpoint = str(tmp_path / 'ckpt')
  code, _, err = _finish(_train(good, checkpoint))
  assert code == 0, err

  expected = {
      'truncated': ('train', 50, 'the file is truncated or corrupt'),
      'label': ('train', 41, 'label 57 is outside [0, 10)'),
      'image': ('train', 45, 'the image does not decode: Invalid PNG'),
  }
  expected_eval = {'truncated': 30, 'label': 33, 'image': 27}
  runs = {}
  for name in expected:
    runs['train ' + name] = _train(data[name], str(tmp_path / ('t_' + name)))
    runs['eval ' + name] = _eval(data[name], checkpoint,
                                 str(tmp_path / ('e_' + name)))
  runs['train skip'] = _train(data['both'], str(tmp_path / 't_skip'),
                              '--skip_bad_records')
  runs['eval skip'] = _eval(data['truncated'], checkpoint,
                            str(tmp_path / 'e_skip'), '--skip_bad_records')
  results = {name: _finish(proc) for name, proc in runs.items()}

  for name, (split, index, reason) in expected.items():
    for script, record in (('train', index), ('eval', expected_eval[name])):
      code, _, err = results['%s %s' % (script, name)]
      path = os.path.join(data[name], 'digits_%s.tfrecord' % (
          'train' if script == 'train' else 'test'))
      assert code == 1, (script, name, err)
      assert 'Traceback' not in err, (script, name, err)
      lines = _error_lines(err)
      assert len(lines) == 1, (script, name, lines)
      assert lines[0].startswith('error: %s: record %d (counting from 0): '
                                 % (path, record)), (script, name, lines)
      assert reason in lines[0], (script, name, lines)
      assert ('Reconvert the dataset (python download_and_convert_data.py '
              '--dataset_name=digits --dataset_dir=%s), or pass '
              '--skip_bad_records' % data[name]) in lines[0]
      assert len(lines[0]) < 500, lines[0]

  code, out, err = results['train skip']
  assert code == 0, err
  assert 'trained simple_cnn to step 12' in out
  assert re.search(r'--skip_bad_records: skipping 2 bad records in 1 of 1 '
                   r'files: \S+digits_train.tfrecord: record 3 .*label 57.*'
                   r'record 60 .*does not decode', err), err
  code, out, err = results['eval skip']
  assert code == 0, err
  assert 'on 30 examples of digits/test' in out, out
  assert 'skipping 1 bad record in 1 of 1 files' in err


# ---- archives ---------------------------------------------------------------


class _RunsShell:

  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (os.system, ('touch %s' % self.marker,))


def test_hostile_pickle_names_the_member_and_random_archive_is_one_line(
    tmp_path):
  marker = tmp_path / 'ran'
  evil = tmp_path / 'cifar-10-python.tar.gz'
  data = pickle.dumps({b'data': _RunsShell(marker), b'labels': []},
                      protocol=2)
  with tarfile.open(evil, 'w:gz') as tar:
    info = tarfile.TarInfo('cifar-10-batches-py/data_batch_1')
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
  random_bytes = tmp_path / 'random.tar.gz'
  random_bytes.write_bytes(os.urandom(4096))
  convert = ['download_and_convert_data.py', '--dataset_name=cifar10']
  procs = {
      'pickle': _start(convert + ['--dataset_dir=%s' % (tmp_path / 'a'),
                                  '--archive_path=%s' % evil]),
      'random': _start(convert + ['--dataset_dir=%s' % (tmp_path / 'b'),
                                  '--archive_path=%s' % random_bytes]),
  }
  code, _, err = _finish(procs['pickle'])
  assert code == 1, err
  lines = _error_lines(err)
  assert len(lines) == 1, err
  assert lines[0].startswith(
      'error: %s (member cifar-10-batches-py/data_batch_1): refusing to '
      'unpickle global posix.system' % evil), lines
  assert 'scratch' not in lines[0]
  assert not marker.exists()
  code, _, err = _finish(procs['random'])
  assert code == 1, err
  assert _error_lines(err) == [
      'error: %s is not a readable tar archive (plain, gzip, bz2 or xz): it '
      'is corrupt or of another kind; fetch it again' % random_bytes]
