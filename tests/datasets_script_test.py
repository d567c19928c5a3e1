"""download_and_convert_data.py as a real subprocess."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tests import upstream_fakes

pytestmark = pytest.mark.slow  # runs the converter script in subprocesses

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / 'download_and_convert_data.py'


def _run(*args):
  return subprocess.run([sys.executable, str(SCRIPT)] + list(args),
                        capture_output=True, text=True, timeout=300,
                        cwd=str(ROOT))


def test_digits_conversion_as_a_subprocess(tmp_path):
  out = tmp_path / 'digits'
  result = _run('--dataset_name=digits', '--dataset_dir=%s' % out)
  assert result.returncode == 0, result.stderr
  assert 'digits in %s: test 360, train 1437' % out in result.stdout
  assert sorted(os.listdir(out)) == ['digits_test.tfrecord',
                                     'digits_train.tfrecord', 'labels.txt',
                                     'splits.txt']


def test_errors_are_one_clear_line_without_traceback(tmp_path):
  source = tmp_path / 'mnist_gz'
  upstream_fakes.write_mnist_files(source, np.zeros([2, 28, 28], np.uint8),
                                   [0, 1], np.zeros([1, 28, 28], np.uint8), [2])
  (source / 't10k-labels-idx1-ubyte.gz').unlink()
  result = _run('--dataset_name=mnist', '--dataset_dir=%s' % (tmp_path / 'o'),
                '--archive_path=%s' % source)
  assert result.returncode == 1
  assert 'error: missing MNIST file(s): %s' % (
      source / 't10k-labels-idx1-ubyte.gz') in result.stderr
  assert 'Traceback' not in result.stderr
