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
