"""Small copies of the digits dataset with bad records, for the tests.

    directory = small_digits(digits_dir, tmp_path / 'd', bad_label(41),
                             truncated(30))   # train: label 57 at record 41
"""
import os

from datasets import dataset_files
from datasets import tfrecord_io
from runtime.tf_compat import tf

TRAIN_RECORDS = 64
TEST_RECORDS = 40


def first_records(path, count):
  return list(tfrecord_io.iter_records(path, limit=count))


def with_label(record, label):
  example = tf.train.Example.FromString(record)
  example.features.feature['image/class/label'].int64_list.value[0] = label
  return example.SerializeToString()


def with_broken_image(record):
  example = tf.train.Example.FromString(record)
  feature = example.features.feature['image/encoded'].bytes_list
  feature.value[0] = feature.value[0][:40] + b'\0' * 30  # PNG header kept
  return example.SerializeToString()


def small_digits(source, directory, train_edit=None, test_edit=None):
  """A 64/40-record copy of digits; `*_edit(records, path)` damages a split."""
  os.makedirs(directory)
  for split, count, edit in (('train', TRAIN_RECORDS, train_edit),
                             ('test', TEST_RECORDS, test_edit)):
    name = 'digits_%s.tfrecord' % split
    records = first_records(os.path.join(source, name), count)
    path = os.path.join(directory, name)
    tfrecord_io.write_tfrecord(path, records)
    if edit:
      edit(records, path)
  dataset_files.write_label_file(
      dataset_files.read_label_file(source), directory)
  dataset_files.write_splits_file({'train': TRAIN_RECORDS,
                                   'test': TEST_RECORDS}, directory)
  return str(directory)


def bad_label(index):
  def edit(records, path):
    records[index] = with_label(records[index], 57)
    tfrecord_io.write_tfrecord(path, records)
  return edit


def bad_image(index):
  def edit(records, path):
    records[index] = with_broken_image(records[index])
    tfrecord_io.write_tfrecord(path, records)
  return edit


def bad_label_and_image(index_label, index_image):
  def edit(records, path):
    records[index_label] = with_label(records[index_label], 57)
    records[index_image] = with_broken_image(records[index_image])
    tfrecord_io.write_tfrecord(path, records)
  return edit


def truncated(keep_records):
  """Cuts the file in the middle of record `keep_records`."""
  def edit(records, path):
    size = sum(len(r) + 16 for r in records[:keep_records]) + 20
    with open(path, 'r+b') as f:
      f.truncate(size)
  return edit
