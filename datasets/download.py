"""Downloading an archive to a directory, atomically.

Works with http(s) and file:// URLs (tests use the latter; this machine kind has
no internet, so a failed download says how to pass a local archive instead).

    path = download('https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz',
                    '/tmp/cifar10')
"""
import os
import shutil
import urllib.error
import urllib.request

from absl import logging

from datasets import errors
from datasets import tfrecord_io


def download(url, dest_dir, filename=None, timeout=60, hint=None):
  """Downloads `url` into `dest_dir` unless the file is already there.

  The data goes to a temporary name and is renamed when complete, so an
  interrupted download never looks finished.

  Args:
    url: http(s)://, ftp:// or file:// URL.
    dest_dir: an existing directory.
    filename: the local name; default the URL's last path component.
    timeout: socket timeout in seconds.
    hint: what to do instead, said after the failure; default: download
      the file elsewhere and pass it with --archive_path.

  Returns:
    The local path.

  Raises:
    DatasetError: if the download fails (with a hint to use --archive_path).

  Example:
    tgz = download(flowers.DATA_URL, dataset_dir)
  """
  filename = filename or url.rstrip('/').rsplit('/', 1)[-1]
  path = os.path.join(dest_dir, filename)
  if os.path.exists(path):
    logging.info('%s already downloaded', path)
    return path
  tmp = tfrecord_io.temporary_path(path)
  logging.info('downloading %s to %s', url, path)
  try:
    with urllib.request.urlopen(url, timeout=timeout) as response, \
        open(tmp, 'wb') as out:
      shutil.copyfileobj(response, out, length=1 << 20)
    os.replace(tmp, path)
  except (urllib.error.URLError, OSError, ValueError) as e:
    hint = hint or ('Without internet, download %s elsewhere and pass it '
                    'with --archive_path.' % filename)
    raise errors.DatasetError('could not download %s: %s. %s' %
                              (url, e, hint)) from None
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  return path
