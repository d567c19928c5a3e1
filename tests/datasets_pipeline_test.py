"""The tf.data input pipeline: eval/train semantics and build-time errors."""
import numpy as np
import pytest

from datasets import dataset_factory
from datasets import errors
from datasets import image_codec
from datasets import pipeline
from datasets import tfrecord_io
from runtime.tf_compat import tf, v1
from preprocessing import preprocessing_factory

NUM_EXAMPLES = 23


def _digit(index):
  """An 8x8x1 image that encodes `index` in its first two pixels."""
  image = np.full([8, 8, 1], 7, np.uint8)
  image[0, 0, 0], image[0, 1, 0] = index // 256, index % 256
  return image


def _index(image):
  return int(image[0, 0, 0]) * 256 + int(image[0, 1, 0])


def _write_shards(directory, num_shards=3, num_examples=NUM_EXAMPLES):
  """digits-format shards `digits_train-0000k`; example i has label i % 10."""
  for shard in range(num_shards):
    records = [
        tfrecord_io.image_example(image_codec.encode_png(_digit(i)), b'png', 8,
                                  8, i % 10).SerializeToString()
        for i in range(shard, num_examples, num_shards)]
    tfrecord_io.write_tfrecord(
        str(directory / ('digits_train-%05d' % shard)), records)
  return dataset_factory.get_dataset('digits', 'train', str(directory),
                                     file_pattern='digits_%s-*')


def _run(batch, max_batches=100):
  out = []
  with v1.Session() as sess:
    for _ in range(max_batches):
      try:
        out.append(sess.run(batch))
      except tf.errors.OutOfRangeError:
        break
  return out


def _eval_indices(dataset, batch_size=5, **kwargs):
  with tf.Graph().as_default():
    batch = pipeline.make_batches(dataset, batch_size, None, None,
                                  is_training=False, **kwargs)
    batches = _run(batch)
  sizes = [len(y) for _, y in batches]
  indices = [_index(x) for images, _ in batches for x in images]
  labels = [int(y) for _, labels in batches for y in labels]
  return sizes, indices, labels


def test_eval_reads_every_example_once_keeping_the_partial_batch(tmp_path):
  dataset = _write_shards(tmp_path)
  sizes, indices, labels = _eval_indices(dataset)
  assert sizes == [5, 5, 5, 5, 3]
  assert sorted(indices) == list(range(NUM_EXAMPLES))
  assert labels == [i % 10 for i in indices]  # Raw labels, no offset.


def test_eval_order_is_deterministic(tmp_path):
  dataset = _write_shards(tmp_path)
  runs = [_eval_indices(dataset, num_parallel_calls=4)[1] for _ in range(3)]
  assert runs[0] == runs[1] == runs[2]


def test_training_batches_are_static_shuffled_and_repeat(tmp_path):
  dataset = _write_shards(tmp_path)
  with tf.Graph().as_default():
    images, labels = pipeline.make_batches(dataset, 4, None, None,
                                           is_training=True, seed=3)
    assert images.shape.as_list() == [4, 8, 8, 1]
    assert labels.shape.as_list() == [4]
    assert images.dtype == tf.float32 and labels.dtype == tf.int64
    batches = _run((images, labels), max_batches=30)
  assert len(batches) == 30  # 120 examples from 23: it repeats.
  seen = [_index(x) for xs, _ in batches for x in xs]
  first_epoch = seen[:NUM_EXAMPLES]
  assert sorted(set(seen)) == list(range(NUM_EXAMPLES))
  assert first_epoch != sorted(first_epoch)  # Shuffled.


def test_seeded_deterministic_training_order_is_reproducible(tmp_path):
  dataset = _write_shards(tmp_path)

  def order():
    with tf.Graph().as_default():
      batch = pipeline.make_batches(dataset, 4, None, None, is_training=True,
                                    seed=7, deterministic=True)
      return [_index(x) for xs, _ in _run(batch, 10) for x in xs]

  assert order() == order()


def test_num_epochs_two_for_eval(tmp_path):
  dataset = _write_shards(tmp_path)
  sizes, indices, _ = _eval_indices(dataset, batch_size=10, num_epochs=2)
  assert sum(sizes) == 2 * NUM_EXAMPLES
  assert sorted(indices) == sorted(list(range(NUM_EXAMPLES)) * 2)


@pytest.mark.parametrize('num_files', [3, 1])
def test_worker_shards_are_disjoint_and_complete(tmp_path, num_files):
  dataset = _write_shards(tmp_path, num_shards=num_files)
  parts = [set(_eval_indices(dataset, num_shards=2, shard_index=i)[1])
           for i in range(2)]
  assert not parts[0] & parts[1]
  assert parts[0] | parts[1] == set(range(NUM_EXAMPLES))


def test_initializable_iterator_restarts(tmp_path):
  dataset = _write_shards(tmp_path, num_shards=1)
  with tf.Graph().as_default():
    batch, init = pipeline.make_initializable_batches(
        dataset, 10, None, None, is_training=False)
    with v1.Session() as sess:
      for _ in range(2):
        sess.run(init)
        total = 0
        while True:
          try:
            total += len(sess.run(batch.labels))
          except tf.errors.OutOfRangeError:
            break
        assert total == NUM_EXAMPLES


def test_with_preprocessing_digits_become_rgb_network_input(tmp_path):
  dataset = _write_shards(tmp_path)
  fn = preprocessing_factory.get_preprocessing('digits', is_training=True)
  with tf.Graph().as_default():
    images, labels = pipeline.make_batches(dataset, 8, fn, 32,
                                           is_training=True)
    assert images.shape.as_list() == [8, 32, 32, 3]
    with v1.Session() as sess:
      x, y = sess.run([images, labels])
  assert x.dtype == np.float32 and x.min() >= -1.0 and x.max() <= 1.0
  assert y.shape == (8,)


def _require_eager():
  if not tf.executing_eagerly():
    pytest.skip('another test switched this process to graph mode')


def test_make_dataset_also_works_eagerly(tmp_path):
  _require_eager()
  dataset = _write_shards(tmp_path, num_shards=1)
  ds = pipeline.make_dataset(dataset, 10, None, None, is_training=False)
  assert [int(y.shape[0]) for _, y in ds] == [10, 10, 3]


def test_make_batches_refuses_eager_mode(tmp_path):
  _require_eager()
  dataset = _write_shards(tmp_path, num_shards=1)
  with pytest.raises(RuntimeError, match='tf.Graph'):
    pipeline.make_batches(dataset, 10, None, None, is_training=False)


# Build-time errors: raised by make_batches before any session runs.


def _build(dataset):
  with tf.Graph().as_default():
    pipeline.make_batches(dataset, 4, None, None, is_training=True)


def test_missing_directory(tmp_path):
  dataset = dataset_factory.get_dataset('digits', 'train',
                                        str(tmp_path / 'nowhere'))
  with pytest.raises(errors.DatasetError,
                     match=r'nowhere does not exist.*download_and_convert_data'
                     r'.py --dataset_name=digits'):
    _build(dataset)


def test_empty_directory(tmp_path):
  dataset = dataset_factory.get_dataset('cifar10', 'test', str(tmp_path))
  with pytest.raises(errors.DatasetError, match='is empty'):
    _build(dataset)


def test_pattern_matching_no_file_names_the_pattern(tmp_path):
  (tmp_path / 'cifar10_train.tfrecord').write_bytes(b'')
  dataset = dataset_factory.get_dataset('cifar10', 'test', str(tmp_path))
  with pytest.raises(errors.DatasetError) as info:
    _build(dataset)
  message = str(info.value)
  assert 'no file matches %s' % (tmp_path / 'cifar10_test.tfrecord') in message
  assert 'cifar10_train.tfrecord' in message  # What the directory holds.


def test_all_files_empty(tmp_path):
  tfrecord_io.write_tfrecord(str(tmp_path / 'digits_train.tfrecord'), [])
  dataset = dataset_factory.get_dataset('digits', 'train', str(tmp_path))
  with pytest.raises(errors.DatasetError, match='is empty .no records'):
    _build(dataset)


def test_file_that_is_not_a_tfrecord_is_named(tmp_path):
  _write_shards(tmp_path)
  bad = tmp_path / 'digits_train-00001'
  bad.write_bytes(b'this is not a TFRecord file at all, just some text')
  dataset = dataset_factory.get_dataset('digits', 'train', str(tmp_path),
                                        file_pattern='digits_%s-*')
  with pytest.raises(errors.DatasetError,
                     match='%s is not a readable TFRecord' % bad):
    _build(dataset)


@pytest.mark.parametrize('record,reason', [
    (b'\x08\x96\x01 not an example', 'not a tf.train.Example'),
    (tf.train.Example().SerializeToString(), "no 'image/encoded'"),
    (tfrecord_io.image_example(b'GIF? no, text', b'png', 8, 8,
                               1).SerializeToString(),
     'is not a PNG, JPEG, GIF or BMP'),
    (tfrecord_io.image_example(image_codec.encode_png(_digit(0)), b'webp', 8,
                               8, 1).SerializeToString(),
     "image/format 'webp'"),
    (tfrecord_io.image_example(image_codec.encode_png(_digit(0)), b'png', 8, 8,
                               12).SerializeToString(),
     r'label 12 is outside \[0, 10\)'),
    (tfrecord_io.image_example(
        image_codec.encode_png(np.zeros([28, 28, 1], np.uint8)), b'png', 28,
        28, 1).SerializeToString(),
     'the PNG is 28x28, this dataset has 8x8 images'),
    (tfrecord_io.image_example(b'\x00' * 10, b'raw', 8, 8,
                               1).SerializeToString(),
     'raw image/encoded has 10 bytes, expected 8x8x1 = 64'),
])
def test_unusable_first_record_is_named(tmp_path, record, reason):
  path = tmp_path / 'digits_test.tfrecord'
  tfrecord_io.write_tfrecord(str(path), [record])
  dataset = dataset_factory.get_dataset('digits', 'test', str(tmp_path))
  with pytest.raises(errors.DatasetError,
                     match='%s: the first record cannot be read as a digits '
                     'example: .*%s' % (path, reason)):
    _build(dataset)


def test_bad_arguments(tmp_path):
  dataset = _write_shards(tmp_path, num_shards=1)
  with pytest.raises(ValueError, match='batch_size'):
    pipeline.make_dataset(dataset, 0, None, None, is_training=False)
  with pytest.raises(ValueError, match='shard_index'):
    pipeline.make_dataset(dataset, 2, None, None, False, num_shards=2,
                          shard_index=2)
  with pytest.raises(ValueError, match='image_size'):
    pipeline.make_dataset(dataset, 2, lambda x, h, w: x, None, False)
