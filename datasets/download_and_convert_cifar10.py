"""Converts CIFAR-10's python tarball to Slim TFRecords.

Reads `cifar-10-python.tar.gz` (`cifar-10-batches-py/data_batch_1..5` and
`test_batch`, each a pickled dict with b'data' uint8 [N, 3072] channel-major
and b'labels'), through a restricted unpickler that admits only numpy arrays,
and writes `cifar10_train.tfrecord` (batches 1..5 in order) and
`cifar10_test.tfrecord`: 32x32x3 PNG, `image/format` = `png`, as Slim does.

    run('/tmp/cifar10')                                    # downloads
    run('/tmp/cifar10', archive_path='/dl/cifar-10-python.tar.gz')
"""
import os

import numpy as np

from datasets import cifar10
from datasets import conversion
from datasets import errors
from datasets import safe_archive
from datasets import safe_pickle

DATA_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'
BATCHES_DIR = 'cifar-10-batches-py'
TRAIN_BATCHES = tuple('data_batch_%d' % i for i in range(1, 6))
TEST_BATCH = 'test_batch'


def output_filename(split_name):
  return cifar10.INFO.file_pattern % split_name


def read_batch(path, source=None):
  """Reads one pickled batch; returns (images uint8 [N,32,32,3], labels).

  Args:
    path: the extracted batch file.
    source: its name in messages (default `path`), e.g. the archive member:
      the extracted file is gone by the time a user reads the message.

  Raises:
    UnsafePickleError: if the pickle names anything but numpy arrays.
    DatasetError: if it is not a CIFAR-10 batch.

  Example:
    images, labels = read_batch('cifar-10-batches-py/test_batch')
  """
  source = source or path
  with open(path, 'rb') as f:
    batch = safe_pickle.load(f, source=source)
  if not isinstance(batch, dict):
    raise errors.DatasetError('%s: expected a dict, got %s' %
                              (source, type(batch).__name__))
  data = batch.get(b'data', batch.get('data'))
  labels = batch.get(b'labels', batch.get('labels'))
  if not isinstance(data, np.ndarray) or labels is None:
    raise errors.DatasetError("%s: no b'data' array and b'labels' list" %
                              source)
  data = np.asarray(data)
  if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
    raise errors.DatasetError('%s: data is %s %s, expected uint8 [N, 3072]' %
                              (source, data.dtype, data.shape))
  labels = np.asarray(labels, dtype=np.int64)
  if labels.shape != (data.shape[0],):
    raise errors.DatasetError('%s: %d images but %d labels' %
                              (source, data.shape[0], labels.size))
  if labels.size and (labels.min() < 0 or labels.max() >= 10):
    raise errors.DatasetError('%s: labels outside 0..9' % source)
  images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
  return images, labels


def _read_batches(root, names, archive):
  parts = []
  for name in names:
    path = os.path.join(root, BATCHES_DIR, name)
    if not os.path.isfile(path):
      raise errors.DatasetError('the archive has no %s/%s' % (BATCHES_DIR,
                                                             name))
    parts.append(read_batch(path, source='%s (member %s/%s)' % (
        archive, BATCHES_DIR, name)))
  images = np.concatenate([p[0] for p in parts])
  labels = np.concatenate([p[1] for p in parts])
  return images, labels


def run(dataset_dir, archive_path=None, source_url=DATA_URL):
  """Converts CIFAR-10; skips if the outputs exist.

  Args:
    dataset_dir: where the TFRecords and labels.txt go.
    archive_path: a local `cifar-10-python.tar.gz`; None downloads
      `source_url`.
    source_url: the tarball's URL (also file://).

  Returns:
    {split: number of examples}.

  Example:
    run('/tmp/cifar10', archive_path='cifar-10-python.tar.gz')
  """
  conversion.make_dataset_dir(dataset_dir)
  outputs = [output_filename(s) for s in ('train', 'test')]
  if conversion.outputs_exist(dataset_dir, outputs):
    return conversion.existing_counts(dataset_dir)
  archive, downloaded = conversion.fetch_archive(dataset_dir, archive_path,
                                                 source_url)
  counts = {}
  with conversion.scratch_dir(dataset_dir) as scratch:
    safe_archive.extract_tar(archive, scratch)
    for split, names in (('train', TRAIN_BATCHES), ('test', (TEST_BATCH,))):
      images, labels = _read_batches(scratch, names, archive)
      counts[split] = conversion.write_split(
          dataset_dir, output_filename(split),
          conversion.png_records(images, labels))
  if downloaded:
    os.remove(archive)
  return conversion.finish(dataset_dir, cifar10.CLASS_NAMES, counts)
