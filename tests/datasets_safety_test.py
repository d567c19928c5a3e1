"""Untrusted archives and pickles: refused with a clear error, nothing run."""
import io
import os
import pickle
import subprocess
import tarfile

import numpy as np
import pytest

from datasets import download_and_convert_cifar10
from datasets import download_and_convert_flowers
from datasets import errors
from datasets import safe_archive
from datasets import safe_pickle
from tests import upstream_fakes


def _tar(path, members):
  """Writes a tar.gz from (TarInfo kwargs, data or None) pairs."""
  with tarfile.open(path, 'w:gz') as tar:
    for kwargs, data in members:
      info = tarfile.TarInfo(kwargs.pop('name'))
      for key, value in kwargs.items():
        setattr(info, key, value)
      if data is not None:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
      else:
        tar.addfile(info)
  return path


def _all_files(root):
  return sorted(os.path.relpath(os.path.join(d, f), root)
                for d, _, files in os.walk(root) for f in files)


@pytest.mark.parametrize('name,kwargs,reason', [
    ('../evil', {}, "'..' component"),
    ('ok/../../evil', {}, "'..' component"),
    ('ABSOLUTE', {}, 'absolute path'),
    ('link', {'type': tarfile.SYMTYPE, 'linkname': '../../evil'},
     'escapes the destination'),
    ('sub/link', {'type': tarfile.SYMTYPE, 'linkname': '../../x'},
     'escapes the destination'),
    ('abslink', {'type': tarfile.SYMTYPE, 'linkname': '/etc/passwd'},
     'absolute path'),
    ('hard', {'type': tarfile.LNKTYPE, 'linkname': '../outside'},
     'escapes the destination'),
    ('dev', {'type': tarfile.CHRTYPE, 'devmajor': 1, 'devminor': 3},
     'device or FIFO'),
    ('fifo', {'type': tarfile.FIFOTYPE}, 'device or FIFO'),
])
def test_unsafe_tar_member_is_refused_and_nothing_is_written(
    tmp_path, name, kwargs, reason):
  outside = tmp_path / 'evil'
  if name == 'ABSOLUTE':
    name = str(tmp_path / 'abs_evil')
  data = b'payload' if not kwargs else None
  archive = _tar(tmp_path / 'bad.tgz', [
      ({'name': 'good.txt'}, b'fine'),
      (dict(kwargs, name=name), data),
  ])
  dest = tmp_path / 'dest'

  with pytest.raises(errors.UnsafeArchiveError, match=reason) as info:
    safe_archive.extract_tar(str(archive), str(dest))

  assert 'nothing was extracted' in str(info.value)
  assert repr(name) in str(info.value)
  assert not dest.exists()  # Checked before anything was written.
  assert not outside.exists() and not (tmp_path / 'abs_evil').exists()


def test_safe_tar_extracts_files_dirs_and_internal_links(tmp_path):
  archive = _tar(tmp_path / 'ok.tgz', [
      ({'name': 'root', 'type': tarfile.DIRTYPE}, None),
      ({'name': 'root/a.txt'}, b'A'),
      ({'name': 'root/link', 'type': tarfile.SYMTYPE, 'linkname': 'a.txt'},
       None),
  ])
  dest = tmp_path / 'dest'
  safe_archive.extract_tar(str(archive), str(dest))
  assert (dest / 'root' / 'a.txt').read_bytes() == b'A'
  assert (dest / 'root' / 'link').read_bytes() == b'A'


def test_not_a_tar_is_a_clear_error(tmp_path):
  path = tmp_path / 'cifar-10-python.tar.gz'
  path.write_bytes(b'<html>404 Not Found</html>')
  with pytest.raises(errors.DatasetError, match='not a readable tar archive'):
    safe_archive.extract_tar(str(path), str(tmp_path / 'dest'))


@pytest.mark.slow
def test_flowers_converter_refuses_an_escaping_archive(tmp_path):
  jpeg = upstream_fakes.encode_jpeg(np.zeros([8, 8, 3], np.uint8))
  archive = _tar(tmp_path / 'flower_photos.tgz', [
      ({'name': 'flower_photos/daisy/1.jpg'}, jpeg),
      ({'name': 'flower_photos/../../evil.jpg'}, jpeg),
  ])
  out = tmp_path / 'out' / 'flowers'
  with pytest.raises(errors.UnsafeArchiveError, match='evil.jpg'):
    download_and_convert_flowers.run(str(out), archive_path=str(archive),
                                     num_validation=1)
  assert _all_files(tmp_path) == ['flower_photos.tgz']


class _RunsShell(object):

  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (os.system, ('touch %s' % self.marker,))


class _RunsPopen(object):

  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (subprocess.Popen, (['touch', self.marker],))


@pytest.mark.parametrize('protocol', [0, 2, 4])
def test_pickle_calling_os_system_is_rejected_and_runs_nothing(
    tmp_path, protocol):
  marker = tmp_path / 'pwned'
  data = pickle.dumps({b'data': _RunsShell(marker)}, protocol=protocol)
  assert pickle.loads(data) == {b'data': 0} and marker.exists()  # It is live.
  marker.unlink()

  with pytest.raises(errors.UnsafePickleError,
                     match=r'evil_batch: refusing to unpickle global '
                     r'posix\.system'):
    safe_pickle.loads(data, source='evil_batch')
  assert not marker.exists()


def test_pickle_with_popen_or_eval_is_rejected(tmp_path):
  marker = tmp_path / 'pwned'
  with pytest.raises(errors.UnsafePickleError, match=r'\.Popen'):
    safe_pickle.loads(pickle.dumps(_RunsPopen(str(marker)), protocol=2))
  evil_eval = b"cbuiltins\neval\n(S'1+1'\ntR."
  with pytest.raises(errors.UnsafePickleError, match='builtins.eval'):
    safe_pickle.loads(evil_eval)
  assert not marker.exists()


def test_codecs_encode_is_admitted_only_for_latin1():
  evil = b"c_codecs\nencode\n(Vx\nVrot13\ntR."
  with pytest.raises(errors.UnsafePickleError, match='rot13'):
    safe_pickle.loads(evil)


@pytest.mark.parametrize('protocol', [2, 4, 5])
def test_python3_pickled_batches_still_load(protocol):
  data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
  batch = safe_pickle.loads(
      pickle.dumps({b'data': data, b'labels': [3, 4]}, protocol=protocol))
  np.testing.assert_array_equal(batch[b'data'], data)
  assert batch[b'labels'] == [3, 4]


def test_python2_style_pickle_loads_with_bytes_keys():
  data = np.arange(3072, dtype=np.uint8).reshape(1, 3072)
  raw = upstream_fakes.py2_pickle_dumps({b'data': data, b'labels': [7],
                                         b'batch_label': b'b'})
  assert b'numpy.core.multiarray\n_reconstruct' in raw
  batch = safe_pickle.loads(raw)
  np.testing.assert_array_equal(batch[b'data'], data)
  assert batch[b'labels'] == [7] and batch[b'batch_label'] == b'b'


def test_cifar_converter_rejects_a_crafted_batch(tmp_path):
  marker = tmp_path / 'pwned'
  archive = _tar(tmp_path / 'cifar-10-python.tar.gz', [
      ({'name': 'cifar-10-batches-py/data_batch_1'},
       pickle.dumps({b'data': _RunsShell(marker), b'labels': []},
                    protocol=2)),
  ])
  out = tmp_path / 'cifar10'
  with pytest.raises(errors.UnsafePickleError, match='data_batch_1'):
    download_and_convert_cifar10.run(str(out), archive_path=str(archive))
  assert not marker.exists()
  assert os.listdir(out) == []  # No output, no scratch left behind.


def test_truncated_pickle_is_a_clear_error():
  raw = upstream_fakes.py2_pickle_dumps({b'labels': [1, 2, 3]})
  with pytest.raises(errors.DatasetError, match='test_batch is not a valid'):
    safe_pickle.loads(raw[:-4], source='test_batch')
