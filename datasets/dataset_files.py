"""The small text files beside the shards: labels.txt and splits.txt.

`labels.txt` is Slim's: one `id:name` line per class. `splits.txt` is ours,
written by our converters with the same syntax (`split:count`), so that the
number of examples of a split is right for data we converted (tiny test data,
a different validation size); Slim-made data has none and the dataset's
published split sizes are used.

    write_label_file({0: 'zero', 1: 'one'}, '/tmp/d')
    read_label_file('/tmp/d')     # {0: 'zero', 1: 'one'}
    read_splits_file('/tmp/d')    # {} when absent
"""
import os

from datasets import errors

LABELS_FILENAME = 'labels.txt'
SPLITS_FILENAME = 'splits.txt'


def _write_pairs(pairs, path):
  # tfrecord_io imports TensorFlow; reading dataset facts must not.
  from datasets import tfrecord_io  # pylint: disable=g-import-not-at-top
  tfrecord_io.write_text(path, ''.join('%s:%s\n' % (k, v) for k, v in pairs))


def _read_pairs(path):
  pairs = []
  with open(path, encoding='utf-8') as f:
    for line_number, line in enumerate(f, 1):
      line = line.rstrip('\r\n')
      if not line.strip():
        continue
      key, sep, value = line.partition(':')
      if not sep:
        raise errors.DatasetError('%s line %d: expected "key:value", got %r' %
                                  (path, line_number, line))
      pairs.append((key.strip(), value, line_number))
  return pairs


def write_label_file(labels_to_names, dataset_dir,
                     filename=LABELS_FILENAME):
  """Writes `labels.txt` (one `id:name` per line, sorted by id) atomically.

  Example:
    write_label_file(dict(enumerate(['cat', 'dog'])), dataset_dir)
  """
  _write_pairs(sorted(labels_to_names.items()),
               os.path.join(dataset_dir, filename))


def has_label_file(dataset_dir, filename=LABELS_FILENAME):
  """Whether `dataset_dir` holds a labels file."""
  return os.path.isfile(os.path.join(dataset_dir, filename))


def read_label_file(dataset_dir, filename=LABELS_FILENAME):
  """Reads `labels.txt` into {int id: name}; None if the file is absent.

  Raises:
    DatasetError: if a line is not `int:name`.

  Example:
    names = read_label_file('/tmp/flowers')  # {0: 'daisy', ...}
  """
  path = os.path.join(dataset_dir, filename)
  if not os.path.isfile(path):
    return None
  labels = {}
  for key, value, line_number in _read_pairs(path):
    try:
      labels[int(key)] = value
    except ValueError:
      raise errors.DatasetError('%s line %d: label id %r is not an integer' %
                                (path, line_number, key)) from None
  return labels


def write_splits_file(splits_to_sizes, dataset_dir, filename=SPLITS_FILENAME):
  """Writes `splits.txt` (`split:count` lines) atomically.

  Example:
    write_splits_file({'train': 1437, 'test': 360}, dataset_dir)
  """
  _write_pairs(sorted(splits_to_sizes.items()),
               os.path.join(dataset_dir, filename))


def read_splits_file(dataset_dir, filename=SPLITS_FILENAME):
  """Reads `splits.txt` into {split: count}; {} if the file is absent.

  Example:
    read_splits_file('/tmp/digits')  # {'test': 360, 'train': 1437}
  """
  path = os.path.join(dataset_dir, filename)
  if not os.path.isfile(path):
    return {}
  sizes = {}
  for key, value, line_number in _read_pairs(path):
    try:
      sizes[key] = int(value)
    except ValueError:
      raise errors.DatasetError('%s line %d: count %r is not an integer' %
                                (path, line_number, value)) from None
  return sizes
