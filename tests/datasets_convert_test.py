"""Converters run offline on tiny archives in the real upstream formats.

Each test writes an archive as upstream publishes it (CIFAR-10's pickled
python tarball, a flower_photos.tgz of JPEG folders, MNIST's IDX gz files,
scikit-learn's digits), converts it, and reads the result back through the
factory and the input pipeline.
"""
import os
import pathlib

import numpy as np
import pytest

from datasets import dataset_factory
from datasets import download_and_convert_cifar10
from datasets import download_and_convert_digits
from datasets import download_and_convert_flowers
from datasets import download_and_convert_mnist
from datasets import errors
from datasets import pipeline
from datasets import tfrecord_io
from tests import upstream_fakes
from runtime.tf_compat import tf, v1


def read_split(dataset, batch_size=7):
  """Every (image, label) of a split, in the pipeline's eval order."""
  images, labels = [], []
  with tf.Graph().as_default():
    batch = pipeline.make_batches(dataset, batch_size, None, None,
                                  is_training=False)
    with v1.Session() as sess:
      while True:
        try:
          x, y = sess.run(batch)
        except tf.errors.OutOfRangeError:
          break
        images.append(x)
        labels.append(y)
  return np.concatenate(images), np.concatenate(labels)


def read_labels_txt(directory):
  return pathlib.Path(directory, 'labels.txt').read_text().splitlines()


def test_cifar10_from_local_tarball_is_pixel_exact(tmp_path):
  rng = np.random.RandomState(0)
  train_x = rng.randint(0, 256, (12, 32, 32, 3)).astype(np.uint8)
  train_y = rng.randint(0, 10, 12)
  test_x = rng.randint(0, 256, (5, 32, 32, 3)).astype(np.uint8)
  test_y = rng.randint(0, 10, 5)
  archive = tmp_path / 'cifar-10-python.tar.gz'
  upstream_fakes.write_cifar10_tarball(archive, train_x, train_y, test_x,
                                       test_y)
  out = tmp_path / 'cifar10'

  counts = download_and_convert_cifar10.run(str(out), archive_path=str(archive))

  assert counts == {'train': 12, 'test': 5}
  assert sorted(os.listdir(out)) == ['cifar10_test.tfrecord',
                                     'cifar10_train.tfrecord', 'labels.txt',
                                     'splits.txt']
  assert read_labels_txt(out)[:3] == ['0:airplane', '1:automobile', '2:bird']
  assert archive.exists()  # A user's archive is never deleted.
  for split, x, y in (('train', train_x, train_y), ('test', test_x, test_y)):
    dataset = dataset_factory.get_dataset('cifar10', split, str(out))
    assert dataset.num_samples == len(y)
    assert dataset.labels_to_names[9] == 'truck'
    images, labels = read_split(dataset)
    np.testing.assert_array_equal(images, x.astype(np.float32))
    np.testing.assert_array_equal(labels, y)
  first = next(tfrecord_io.iter_records(str(out / 'cifar10_test.tfrecord')))
  feature = tf.train.Example.FromString(first).features.feature
  assert feature['image/format'].bytes_list.value == [b'png']
  assert feature['image/height'].int64_list.value == [32]


def test_cifar10_download_code_runs_on_a_file_url(tmp_path):
  rng = np.random.RandomState(1)
  x = rng.randint(0, 256, (5, 32, 32, 3)).astype(np.uint8)
  archive = tmp_path / 'src' / 'cifar-10-python.tar.gz'
  archive.parent.mkdir()
  upstream_fakes.write_cifar10_tarball(archive, x, [1] * 5, x[:2], [2, 3])
  out = tmp_path / 'out'

  counts = download_and_convert_cifar10.run(str(out),
                                            source_url=archive.as_uri())

  assert counts == {'train': 5, 'test': 2}
  # The downloaded tarball and the scratch directory are cleaned up.
  assert sorted(os.listdir(out)) == ['cifar10_test.tfrecord',
                                     'cifar10_train.tfrecord', 'labels.txt',
                                     'splits.txt']


def test_failed_download_suggests_archive_path(tmp_path):
  with pytest.raises(errors.DatasetError, match='--archive_path'):
    download_and_convert_cifar10.run(
        str(tmp_path / 'out'), source_url=(tmp_path / 'nope.tgz').as_uri())


def test_mnist_from_idx_files_is_pixel_exact(tmp_path):
  rng = np.random.RandomState(2)
  train_x = rng.randint(0, 256, (9, 28, 28)).astype(np.uint8)
  train_y = rng.randint(0, 10, 9)
  test_x = rng.randint(0, 256, (4, 28, 28)).astype(np.uint8)
  test_y = rng.randint(0, 10, 4)
  source = tmp_path / 'mnist_gz'
  upstream_fakes.write_mnist_files(source, train_x, train_y, test_x, test_y)
  out = tmp_path / 'mnist'

  counts = download_and_convert_mnist.run(str(out), archive_path=str(source))

  assert counts == {'train': 9, 'test': 4}
  assert read_labels_txt(out) == ['0:zero', '1:one', '2:two', '3:three',
                                  '4:four', '5:five', '6:six', '7:seven',
                                  '8:eight', '9:nine']
  for split, x, y in (('train', train_x, train_y), ('test', test_x, test_y)):
    dataset = dataset_factory.get_dataset('mnist', split, str(out))
    assert dataset.num_samples == len(y)
    images, labels = read_split(dataset)
    assert images.shape == (len(y), 28, 28, 1)
    np.testing.assert_array_equal(images[..., 0], x.astype(np.float32))
    np.testing.assert_array_equal(labels, y)


def test_mnist_download_code_runs_on_a_file_url(tmp_path):
  x = np.zeros((2, 28, 28), np.uint8)
  source = tmp_path / 'mirror'
  upstream_fakes.write_mnist_files(source, x, [0, 1], x[:1], [5])
  out = tmp_path / 'mnist'
  counts = download_and_convert_mnist.run(str(out),
                                          source_url=source.as_uri() + '/')
  assert counts == {'train': 2, 'test': 1}
  assert not any(n.endswith('.gz') for n in os.listdir(out))


def test_mnist_rejects_a_file_that_is_not_idx(tmp_path):
  x = np.zeros((2, 28, 28), np.uint8)
  source = tmp_path / 'mnist_gz'
  upstream_fakes.write_mnist_files(source, x, [0, 1], x, [0, 1])
  # Swap images and labels: wrong magic numbers.
  os.replace(source / 'train-labels-idx1-ubyte.gz',
             source / 'train-images-idx3-ubyte.gz')
  upstream_fakes.write_mnist_files(tmp_path / 'other', x, [0, 1], x, [0, 1])
  os.replace(tmp_path / 'other' / 'train-labels-idx1-ubyte.gz',
             source / 'train-labels-idx1-ubyte.gz')
  with pytest.raises(errors.DatasetError,
                     match='train-images-idx3-ubyte.gz: IDX magic 2049'):
    download_and_convert_mnist.run(str(tmp_path / 'out'),
                                   archive_path=str(source))


def _flowers_archive(tmp_path, per_class=(4, 3, 3, 2, 3)):
  rng = np.random.RandomState(3)
  images = {}
  for name, n in zip(('daisy', 'dandelion', 'roses', 'sunflowers', 'tulips'),
                     per_class):
    images[name] = [upstream_fakes.synthetic_photo(
        rng, rng.randint(20, 40), rng.randint(20, 40)) for _ in range(n)]
  archive = tmp_path / 'flower_photos.tgz'
  written = upstream_fakes.write_flowers_tarball(archive, images)
  return archive, written


def test_flowers_from_local_tarball(tmp_path):
  archive, written = _flowers_archive(tmp_path)
  out = tmp_path / 'flowers'

  counts = download_and_convert_flowers.run(str(out),
                                            archive_path=str(archive),
                                            num_validation=5)

  assert counts == {'train': 10, 'validation': 5}
  names = sorted(os.listdir(out))
  assert names == (['flowers_train_%05d-of-00005.tfrecord' % i
                    for i in range(5)] +
                   ['flowers_validation_%05d-of-00005.tfrecord' % i
                    for i in range(5)] + ['labels.txt', 'splits.txt'])
  assert read_labels_txt(out) == ['0:daisy', '1:dandelion', '2:roses',
                                  '3:sunflowers', '4:tulips']
  # Every photo is stored once, bytes unchanged, with its folder's label.
  by_bytes = {data: member.split('/')[1] for member, data in written.items()}
  seen = []
  for split in ('train', 'validation'):
    dataset = dataset_factory.get_dataset('flowers', split, str(out))
    assert dataset.num_samples == counts[split]
    for path in pipeline.list_files(dataset):
      for record in tfrecord_io.iter_records(path):
        feature = tf.train.Example.FromString(record).features.feature
        data = feature['image/encoded'].bytes_list.value[0]
        label = feature['image/class/label'].int64_list.value[0]
        assert feature['image/format'].bytes_list.value == [b'jpg']
        assert dataset.labels_to_names[label] == by_bytes[data]
        seen.append(data)
  assert sorted(seen) == sorted(written.values())
  # The pipeline decodes the JPEGs at their recorded size.
  dataset = dataset_factory.get_dataset('flowers', 'validation', str(out))
  with tf.Graph().as_default():
    batch = pipeline.make_batches(dataset, 1, None, None, is_training=False)
    with v1.Session() as sess:
      shapes = []
      while True:
        try:
          shapes.append(sess.run(batch.images).shape)
        except tf.errors.OutOfRangeError:
          break
  assert len(shapes) == 5 and all(s[0] == 1 and s[3] == 3 for s in shapes)


def test_flowers_split_is_seeded_and_stable(tmp_path):
  archive, _ = _flowers_archive(tmp_path)
  first = download_and_convert_flowers.run(str(tmp_path / 'a'),
                                           archive_path=str(archive),
                                           num_validation=5)
  second = download_and_convert_flowers.run(str(tmp_path / 'b'),
                                            archive_path=str(archive),
                                            num_validation=5)
  assert first == second
  for shard in ('validation_00000', 'train_00003'):
    name = 'flowers_%s-of-00005.tfrecord' % shard
    assert (tmp_path / 'a' / name).read_bytes() == (
        tmp_path / 'b' / name).read_bytes()


def test_digits_from_scikit_learn_bundle(tmp_path):
  out = tmp_path / 'digits'
  counts = download_and_convert_digits.run(str(out))
  assert counts == {'train': 1437, 'test': 360}
  assert read_labels_txt(out) == ['%d:%d' % (i, i) for i in range(10)]

  # pylint: disable=g-import-not-at-top
  from sklearn import datasets as sk_datasets
  bunch = sk_datasets.load_digits()
  expected = {}
  for image, label in zip(bunch.images, bunch.target):
    scaled = np.round(image * 255.0 / 16.0).astype(np.uint8)
    expected.setdefault(scaled.tobytes(), set()).add(int(label))
  total = 0
  per_class = np.zeros(10, int)
  for split in ('train', 'test'):
    dataset = dataset_factory.get_dataset('digits', split, str(out))
    assert dataset.num_samples == counts[split]
    assert dataset.image_channels == 1
    images, labels = read_split(dataset, batch_size=256)
    assert images.shape == (counts[split], 8, 8, 1)
    assert images.min() == 0 and images.max() == 255
    for image, label in zip(images, labels):
      assert label in expected[image[..., 0].astype(np.uint8).tobytes()]
    if split == 'test':
      per_class = np.bincount(labels, minlength=10)
    total += len(labels)
  assert total == 1797
  # Stratified: every class has 35 or 36 test images.
  assert per_class.sum() == 360 and set(per_class) <= {35, 36, 37}


def test_digits_conversion_is_stable_across_runs(tmp_path):
  download_and_convert_digits.run(str(tmp_path / 'a'))
  download_and_convert_digits.run(str(tmp_path / 'b'))
  for name in ('digits_train.tfrecord', 'digits_test.tfrecord', 'labels.txt',
               'splits.txt'):
    assert (tmp_path / 'a' / name).read_bytes() == (
        tmp_path / 'b' / name).read_bytes()


def test_conversion_is_idempotent(tmp_path):
  out = tmp_path / 'digits'
  download_and_convert_digits.run(str(out))
  before = {n: os.stat(out / n).st_mtime_ns for n in os.listdir(out)}
  assert download_and_convert_digits.run(str(out)) == {'train': 1437,
                                                        'test': 360}
  after = {n: os.stat(out / n).st_mtime_ns for n in os.listdir(out)}
  assert before == after


def test_interrupted_conversion_leaves_no_final_file(tmp_path, monkeypatch):
  out = tmp_path / 'digits'

  def fail_midway(images, labels, image_format=b'png'):
    del images, labels, image_format
    yield b'one record'
    raise KeyboardInterrupt('simulated crash')

  monkeypatch.setattr(download_and_convert_digits.conversion, 'png_records',
                      fail_midway)
  with pytest.raises(KeyboardInterrupt):
    download_and_convert_digits.run(str(out))
  assert os.listdir(out) == []  # No partial file, not even a temporary one.
