"""What every converter shares: idempotence, archives, and writing splits.

A converter (1) returns early when all its outputs exist, (2) gets its archive
from `--archive_path` or downloads it, (3) extracts into a scratch directory
inside `dataset_dir` that is always removed, (4) writes each TFRecord file
atomically, then `labels.txt` and `splits.txt`.

    if conversion.outputs_exist(dataset_dir, filenames):
      return conversion.existing_counts(dataset_dir)
    with conversion.scratch_dir(dataset_dir) as scratch: ...
"""
import contextlib
import os
import shutil
import tempfile

from absl import logging

from datasets import dataset_files
from datasets import download
from datasets import errors
from datasets import image_codec
from datasets import tfrecord_io


def outputs_exist(dataset_dir, filenames):
  """Whether every output (and labels.txt) is already in `dataset_dir`.

  Example:
    outputs_exist(d, ['cifar10_train.tfrecord', 'cifar10_test.tfrecord'])
  """
  names = list(filenames) + [dataset_files.LABELS_FILENAME]
  done = all(os.path.isfile(os.path.join(dataset_dir, n)) for n in names)
  if done:
    logging.info('%s already holds %s: skipping conversion', dataset_dir,
                 ', '.join(names))
  return done


def existing_counts(dataset_dir):
  """The split sizes recorded by an earlier conversion ({} if unknown)."""
  return dataset_files.read_splits_file(dataset_dir)


def make_dataset_dir(dataset_dir):
  """Creates `dataset_dir` if needed; returns it."""
  try:
    os.makedirs(dataset_dir, exist_ok=True)
  except OSError as e:
    raise errors.DatasetError('cannot create dataset directory %s: %s' %
                              (dataset_dir, e)) from None
  return dataset_dir


@contextlib.contextmanager
def scratch_dir(dataset_dir):
  """A temporary directory inside `dataset_dir`, removed on exit.

  Example:
    with scratch_dir(dataset_dir) as scratch:
      safe_archive.extract_tar(archive, scratch)
  """
  path = tempfile.mkdtemp(prefix='.scratch-', dir=dataset_dir)
  try:
    yield path
  finally:
    shutil.rmtree(path, ignore_errors=True)


def fetch_archive(dataset_dir, archive_path, url):
  """Returns (local archive path, whether it was downloaded here).

  A given `archive_path` is used as is (and never deleted); otherwise `url`
  is downloaded into `dataset_dir`.

  Example:
    path, downloaded = fetch_archive(d, FLAGS.archive_path, flowers_url)
  """
  if archive_path:
    if not os.path.exists(archive_path):
      raise errors.DatasetError('archive %s does not exist' % archive_path)
    return archive_path, False
  return download.download(url, dataset_dir), True


def png_records(images, labels, image_format=b'png'):
  """Yields serialized Slim Examples for uint8 [N, H, W, C] images.

  Example:
    write_tfrecord(path, png_records(images, labels))
  """
  for image, label in zip(images, labels):
    height, width = image.shape[:2]
    yield tfrecord_io.image_example(image_codec.encode_png(image),
                                    image_format, height, width,
                                    int(label)).SerializeToString()


def write_split(dataset_dir, filename, records):
  """Writes one TFRecord file atomically; returns the record count."""
  path = os.path.join(dataset_dir, filename)
  count = tfrecord_io.write_tfrecord(path, records)
  logging.info('wrote %d records to %s', count, path)
  return count


def finish(dataset_dir, class_names, split_counts):
  """Writes splits.txt, then labels.txt (the "done" mark); returns counts.

  Example:
    return finish(d, cifar10.CLASS_NAMES, {'train': 50000, 'test': 10000})
  """
  dataset_files.write_splits_file(split_counts, dataset_dir)
  dataset_files.write_label_file(dict(enumerate(class_names)), dataset_dir)
  return dict(split_counts)
