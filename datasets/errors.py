"""Exceptions for data that is missing, unreadable or unsafe.

Every error raised by `datasets` for a problem with the data (rather than with
the calling code) is a `DatasetError`, a `ValueError`, so scripts can print its
message instead of a stack trace:

    try:
      batch = pipeline.make_batches(dataset, 32, fn, 224, is_training=True)
    except errors.DatasetError as e:
      sys.exit('error: %s' % e)
"""
import pickle

class DatasetError(ValueError):
  """The data on disk is missing, empty or cannot be read."""


class UnsafeArchiveError(DatasetError):
  """An archive holds a member that would escape the target directory."""


class UnsafePickleError(DatasetError, pickle.UnpicklingError):
  """A pickle asked for a callable outside the admitted list."""


def setup_hint(dataset, prefix='make it with: '):
  """How to (re)make a dataset split's files, for error messages."""
  if dataset.name == 'imagenet':
    return "build it with Slim's ImageNet scripts (see datasets/imagenet.py)"
  return ('%spython download_and_convert_data.py --dataset_name=%s '
          '--dataset_dir=%s' % (prefix, dataset.name, dataset.dataset_dir))
