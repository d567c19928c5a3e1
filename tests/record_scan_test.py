"""record_scan and the pipeline's skip mode, in process, on real TFRecords."""
import os

import pytest

from datasets import dataset_factory
from datasets import errors
from datasets import pipeline
from datasets import record_scan
from runtime.tf_compat import tf, v1
from tests import bad_records_testlib as bad_records
from tests.train_testlib import digits_dir  # pylint: disable=unused-import


def _read_all(dataset):
  with tf.Graph().as_default():
    batch = pipeline.make_batches(dataset, 16, None, None, is_training=False)
    labels = []
    with v1.Session() as session:
      while True:
        try:
          labels.extend(session.run(batch.labels))
        except tf.errors.OutOfRangeError:
          return labels


def test_scan_finds_every_bad_record_and_skip_mode_leaves_them_out(
    digits_dir, tmp_path):
  def damage(records, path):
    bad_records.bad_label_and_image(7, 20)(records, path)
    bad_records.truncated(30)(records, path)
  directory = bad_records.small_digits(digits_dir, tmp_path / 'd', damage)
  path = os.path.join(directory, 'digits_train.tfrecord')
  dataset = dataset_factory.get_dataset('digits', 'train', directory)
  scan = record_scan.scan_file(path, dataset.decoder, 10)
  assert [b.index for b in scan.bad] == [7, 20, 30]
  assert 'label 57' in scan.bad[0].reason
  assert 'does not decode' in scan.bad[1].reason
  assert 'truncated' in scan.bad[2].reason
  assert scan.readable == 30 and scan.num_good == 28
  first = record_scan.find_first_bad([path], dataset.decoder, 10)
  assert (first.path, first.index) == (path, 7)

  skipping = dataset_factory.get_dataset('digits', 'train', directory,
                                         skip_bad_records=True)
  labels = _read_all(skipping)
  assert len(labels) == 28 and max(labels) < 10


def test_skip_mode_with_no_good_record_is_an_error(digits_dir, tmp_path):
  directory = bad_records.small_digits(digits_dir, tmp_path / 'd',
                                       bad_records.truncated(0))
  dataset = dataset_factory.get_dataset('digits', 'train', directory,
                                        skip_bad_records=True)
  with pytest.raises(errors.DatasetError, match='no good record in'):
    _read_all(dataset)
