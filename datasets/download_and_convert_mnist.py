"""Converts MNIST's IDX files to Slim TFRecords.

Reads `train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`,
`t10k-images-idx3-ubyte.gz` and `t10k-labels-idx1-ubyte.gz` (gzip'ed IDX:
big-endian magic 2051/2049, counts, then uint8 pixels/labels) and writes
`mnist_train.tfrecord` and `mnist_test.tfrecord`: 28x28x1 PNG with
`image/format` = `png`, as Slim's converter does.

    run('/tmp/mnist')                                  # downloads the 4 files
    run('/tmp/mnist', archive_path='/dl/mnist_gz_dir')  # a directory of them
"""
import gzip
import os
import struct

import numpy as np

from datasets import conversion
from datasets import download
from datasets import errors
from datasets import mnist

DATA_URL = 'http://yann.lecun.com/exdb/mnist/'
TRAIN_IMAGES = 'train-images-idx3-ubyte.gz'
TRAIN_LABELS = 'train-labels-idx1-ubyte.gz'
TEST_IMAGES = 't10k-images-idx3-ubyte.gz'
TEST_LABELS = 't10k-labels-idx1-ubyte.gz'
SPLIT_FILES = {
    'train': (TRAIN_IMAGES, TRAIN_LABELS),
    'test': (TEST_IMAGES, TEST_LABELS),
}
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


def output_filename(split_name):
  return mnist.INFO.file_pattern % split_name


def _read_gz(path):
  try:
    with gzip.open(path, 'rb') as f:
      return f.read()
  except (OSError, EOFError) as e:
    raise errors.DatasetError('%s is not a readable gzip file: %s' %
                              (path, e)) from None


def _check_magic(path, data, expected, what):
  if len(data) < 4:
    raise errors.DatasetError('%s: too short for an IDX file' % path)
  (magic,) = struct.unpack('>I', data[:4])
  if magic != expected:
    raise errors.DatasetError('%s: IDX magic %d, expected %d (%s)' %
                              (path, magic, expected, what))


def read_images(path):
  """Reads a gzip'ed IDX image file; returns uint8 [N, rows, cols, 1].

  Example:
    images = read_images('t10k-images-idx3-ubyte.gz')   # [10000, 28, 28, 1]
  """
  data = _read_gz(path)
  _check_magic(path, data, IMAGES_MAGIC, 'images')
  if len(data) < 16:
    raise errors.DatasetError('%s: too short for an IDX image header' % path)
  _, count, rows, cols = struct.unpack('>IIII', data[:16])
  expected = count * rows * cols
  if len(data) - 16 < expected:
    raise errors.DatasetError('%s: truncated, %d of %d pixel bytes' %
                              (path, len(data) - 16, expected))
  pixels = np.frombuffer(data, np.uint8, count=expected, offset=16)
  return pixels.reshape(count, rows, cols, 1)


def read_labels(path):
  """Reads a gzip'ed IDX label file; returns int64 [N].

  Example:
    labels = read_labels('t10k-labels-idx1-ubyte.gz')
  """
  data = _read_gz(path)
  _check_magic(path, data, LABELS_MAGIC, 'labels')
  if len(data) < 8:
    raise errors.DatasetError('%s: too short for an IDX label header' % path)
  _, count = struct.unpack('>II', data[:8])
  if len(data) - 8 < count:
    raise errors.DatasetError('%s: truncated, %d of %d labels' %
                              (path, len(data) - 8, count))
  labels = np.frombuffer(data, np.uint8, count=count, offset=8)
  if labels.size and labels.max() > 9:
    raise errors.DatasetError('%s: labels outside 0..9' % path)
  return labels.astype(np.int64)


def _source_files(dataset_dir, archive_path, source_url):
  """Returns ({name: local path}, [paths downloaded here])."""
  names = [n for pair in SPLIT_FILES.values() for n in pair]
  if archive_path:
    if not os.path.isdir(archive_path):
      raise errors.DatasetError(
          'for mnist, --archive_path is the directory holding %s; %s is not '
          'a directory' % (', '.join(names), archive_path))
    paths = {n: os.path.join(archive_path, n) for n in names}
    missing = [p for p in paths.values() if not os.path.isfile(p)]
    if missing:
      raise errors.DatasetError('missing MNIST file(s): %s' %
                                ', '.join(missing))
    return paths, []
  paths = {}
  downloaded = []
  hint = ('Without internet, download the four files (%s) from %s elsewhere '
          'into one directory and pass that directory with --archive_path.'
          % (', '.join(names), source_url))
  for name in names:
    existed = os.path.exists(os.path.join(dataset_dir, name))
    paths[name] = download.download(source_url.rstrip('/') + '/' + name,
                                    dataset_dir, hint=hint)
    if not existed:
      downloaded.append(paths[name])
  return paths, downloaded


def run(dataset_dir, archive_path=None, source_url=DATA_URL):
  """Converts MNIST; skips if the outputs exist.

  Args:
    dataset_dir: where the TFRecords and labels.txt go.
    archive_path: a local directory holding the four .gz files; None
      downloads them from `source_url`.
    source_url: the base URL of the four files (also file://).

  Returns:
    {split: number of examples}.

  Example:
    run('/tmp/mnist', archive_path='/dl/mnist')
  """
  conversion.make_dataset_dir(dataset_dir)
  outputs = [output_filename(s) for s in SPLIT_FILES]
  if conversion.outputs_exist(dataset_dir, outputs):
    return conversion.existing_counts(dataset_dir)
  paths, downloaded = _source_files(dataset_dir, archive_path, source_url)
  counts = {}
  for split, (images_name, labels_name) in sorted(SPLIT_FILES.items()):
    images = read_images(paths[images_name])
    labels = read_labels(paths[labels_name])
    if len(images) != len(labels):
      raise errors.DatasetError('%s has %d images but %s has %d labels' %
                                (images_name, len(images), labels_name,
                                 len(labels)))
    counts[split] = conversion.write_split(
        dataset_dir, output_filename(split),
        conversion.png_records(images, labels))
  for path in downloaded:
    os.remove(path)
  return conversion.finish(dataset_dir, mnist.CLASS_NAMES, counts)
