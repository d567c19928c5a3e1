r"""Downloads and converts a dataset to Slim-format TFRecords.

Usage:
  # The embedded dataset (scikit-learn's handwritten digits, no network):
  python download_and_convert_data.py --dataset_name=digits \
      --dataset_dir=/tmp/digits

  # From the canonical URL:
  python download_and_convert_data.py --dataset_name=cifar10 \
      --dataset_dir=/tmp/cifar10

  # From an archive downloaded elsewhere (no internet here):
  python download_and_convert_data.py --dataset_name=flowers \
      --dataset_dir=/tmp/flowers --archive_path=/dl/flower_photos.tgz
  python download_and_convert_data.py --dataset_name=mnist \
      --dataset_dir=/tmp/mnist --archive_path=/dl/mnist  # the 4 .gz files

A conversion whose outputs already exist is skipped. A bad flag exits 2
(before TensorFlow loads), bad source data 1, with one `error:` line; a
conversion that fails removes the directories it created for
--dataset_dir if they are still empty (never one that existed before).
"""
import os
import sys

from absl import app
from absl import flags
from absl import logging

from datasets import converters
from datasets import errors
from runtime import script_util

FLAGS = flags.FLAGS

flags.DEFINE_enum('dataset_name', None,
                  sorted(converters.CONVERTER_NAMES +
                         list(converters.NO_CONVERTER)),
                  'The dataset to convert (imagenet: explains how).')
flags.DEFINE_string('dataset_dir', None,
                    'Where the TFRecords and labels.txt are written.')
flags.DEFINE_string(
    'archive_path', None,
    'A local copy of the source: cifar-10-python.tar.gz (cifar10), '
    'flower_photos.tgz (flowers), or the directory holding the four .gz '
    'files (mnist). Default: download it. Unused for digits.')
flags.DEFINE_string('source_url', None,
                    'Override the canonical download URL (a mirror or a '
                    'file:// URL); for mnist, the base URL of the four files.')
flags.DEFINE_integer('num_validation', None,
                     'flowers only: photos in the validation split '
                     '(default 350, as Slim).')
flags.mark_flags_as_required(['dataset_name', 'dataset_dir'])


def _missing_dirs(path):
  """`path` and its ancestors that do not exist yet, deepest first."""
  missing = []
  path = os.path.abspath(path)
  while not os.path.exists(path):
    missing.append(path)
    parent = os.path.dirname(path)
    if parent == path:
      break
    path = parent
  return missing


def _remove_if_empty(directories):
  """Removes the empty ones of `directories` (deepest first); a directory
  that holds anything stays, as do the ones above it."""
  for directory in directories:
    try:
      os.rmdir(directory)
    except OSError:
      return
    logging.info('removed %s, created for the failed conversion', directory)


def main(argv):
  if len(argv) > 1:
    return script_util.fail('unexpected arguments: %s' % ' '.join(argv[1:]),
                            script_util.FLAG_ERROR)
  logging.set_verbosity(logging.INFO)
  if FLAGS.dataset_name in converters.NO_CONVERTER:
    print('error: no converter for %s: %s' %
          (FLAGS.dataset_name, converters.NO_CONVERTER[FLAGS.dataset_name]),
          file=sys.stderr)
    return 1
  kwargs = {}
  if FLAGS.num_validation is not None:
    if FLAGS.dataset_name != 'flowers':
      return script_util.fail('--num_validation is for '
                              '--dataset_name=flowers', script_util.FLAG_ERROR)
    kwargs['num_validation'] = FLAGS.num_validation
  created = _missing_dirs(FLAGS.dataset_dir)
  try:
    counts = converters.convert(FLAGS.dataset_name, FLAGS.dataset_dir,
                                archive_path=FLAGS.archive_path,
                                source_url=FLAGS.source_url, **kwargs)
  except errors.DatasetError as e:
    _remove_if_empty(created)
    print('error: %s' % e, file=sys.stderr)
    return 1
  except BaseException:
    _remove_if_empty(created)
    raise
  print('%s in %s: %s' % (FLAGS.dataset_name, FLAGS.dataset_dir,
                          ', '.join('%s %d' % kv for kv in sorted(
                              counts.items()))))
  return 0


if __name__ == '__main__':
  app.run(main, flags_parser=script_util.parse_flags)
