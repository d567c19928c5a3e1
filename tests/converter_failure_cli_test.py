"""A failed conversion through download_and_convert_data.py: one `error:`
line with what to pass instead, and no directory left behind that the
script created, while directories that existed (and user files) stay."""
import re
import subprocess
import sys

import pytest

from tests import train_testlib

pytestmark = pytest.mark.slow  # runs the converter in subprocesses

SCRIPT = 'download_and_convert_data.py'
MNIST_FILES = ('train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, '
               't10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz')


def _start(*args):
  return subprocess.Popen([sys.executable, SCRIPT] + list(args),
                          cwd=train_testlib.ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def _error_line(process):
  out, err = process.communicate(timeout=300)
  assert process.returncode == 1, err
  assert 'Traceback' not in err and not out, err
  lines = [l for l in err.splitlines()
           if l.strip() and not re.match(r'^[IWEF]\d{4} ', l)]
  assert len(lines) == 1 and lines[0].startswith('error: '), err
  return lines[0]


def test_failed_download_leaves_no_new_directory(tmp_path):
  # A file:// URL that does not exist fails at once, network or not.
  nowhere = (tmp_path / 'nowhere').as_uri()
  existing = tmp_path / 'existing'
  existing.mkdir()
  user = tmp_path / 'user'
  user.mkdir()
  (user / 'notes.txt').write_text('mine')
  runs = {
      # Three levels created by the script, all removed.
      'mnist': _start('--dataset_name=mnist', '--source_url=' + nowhere,
                      '--dataset_dir=%s' % (tmp_path / 'a' / 'b' / 'mnist')),
      'existing': _start('--dataset_name=cifar10',
                         '--source_url=%s/cifar.tar.gz' % nowhere,
                         '--dataset_dir=%s' % existing),
      'user': _start('--dataset_name=flowers',
                     '--source_url=%s/flowers.tgz' % nowhere,
                     '--dataset_dir=%s' % user),
      # A bad local archive (not a download) cleans up the same way.
      'archive': _start('--dataset_name=flowers',
                        '--archive_path=%s' % (tmp_path / 'missing.tgz'),
                        '--dataset_dir=%s' % (tmp_path / 'flowers')),
  }
  errors = {name: _error_line(p) for name, p in runs.items()}

  assert errors['mnist'] == (
      'error: could not download %s/train-images-idx3-ubyte.gz: <urlopen '
      'error [Errno 2] No such file or directory: %r>. Without internet, '
      'download the four files (%s) from %s elsewhere into one directory and '
      'pass that directory with --archive_path.' % (
          nowhere, str(tmp_path / 'nowhere' / 'train-images-idx3-ubyte.gz'),
          MNIST_FILES, nowhere))
  assert not (tmp_path / 'a').exists()
  assert errors['existing'].startswith('error: could not download ')
  assert errors['existing'].endswith(
      'Without internet, download cifar.tar.gz elsewhere and pass it with '
      '--archive_path.')
  assert existing.is_dir() and not list(existing.iterdir())
  assert errors['user'].startswith('error: could not download ')
  assert [p.name for p in user.iterdir()] == ['notes.txt']
  assert str(tmp_path / 'missing.tgz') in errors['archive']
  assert not (tmp_path / 'flowers').exists()
  assert sorted(p.name for p in tmp_path.iterdir()) == ['existing', 'user']


def test_the_mnist_hint_works_as_written(tmp_path):
  """The directory of the four files, passed as the hint says, converts."""
  from tests import upstream_fakes  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  source = tmp_path / 'mnist_gz'
  upstream_fakes.write_mnist_files(source, np.zeros([2, 28, 28], np.uint8),
                                   [0, 1], np.zeros([1, 28, 28], np.uint8),
                                   [2])
  process = _start('--dataset_name=mnist', '--archive_path=%s' % source,
                   '--dataset_dir=%s' % (tmp_path / 'new' / 'mnist'))
  out, err = process.communicate(timeout=300)
  assert process.returncode == 0, err
  assert 'mnist in %s: test 1, train 2' % (tmp_path / 'new' / 'mnist') in out
