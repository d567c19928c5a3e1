"""TFRecords written by hand with Slim's keys (not our writer) read correctly.

This is the compatibility guarantee for users' existing Slim data: every
`image/format` spelling Slim's converters and builders wrote (`png` for
CIFAR-10 and MNIST, `jpg` for flowers, `JPEG` for ImageNet) and those a user
may have (`jpeg`, `raw`, none at all) decodes.
"""
import io

import numpy as np
import pytest
from PIL import Image

from datasets import dataset_factory
from datasets import pipeline
from runtime.tf_compat import tf, v1


def _png(array):
  out = io.BytesIO()
  Image.fromarray(array.squeeze(-1) if array.shape[-1] == 1 else array).save(
      out, format='PNG')
  return out.getvalue()


def _jpeg(array):
  out = io.BytesIO()
  Image.fromarray(array).save(out, format='JPEG', quality=95)
  return out.getvalue()


def _example(features):
  """A tf.train.Example from {key: bytes | int | list}, as Slim builds them."""
  feature = {}
  for key, value in features.items():
    values = value if isinstance(value, list) else [value]
    if isinstance(values[0], bytes):
      feature[key] = tf.train.Feature(
          bytes_list=tf.train.BytesList(value=values))
    elif isinstance(values[0], float):
      feature[key] = tf.train.Feature(
          float_list=tf.train.FloatList(value=values))
    else:
      feature[key] = tf.train.Feature(
          int64_list=tf.train.Int64List(value=values))
  return tf.train.Example(features=tf.train.Features(feature=feature))


def _write(path, examples):
  with tf.io.TFRecordWriter(str(path)) as writer:
    for example in examples:
      writer.write(example.SerializeToString())


def _read_all(dataset):
  """(list of images as uint8 arrays, labels) in eval order, one at a time."""
  images, labels = [], []
  with tf.Graph().as_default():
    batch = pipeline.make_batches(dataset, 1, None, None, is_training=False)
    with v1.Session() as sess:
      while True:
        try:
          x, y = sess.run(batch)
        except tf.errors.OutOfRangeError:
          break
        images.append(x[0].astype(np.uint8))
        labels.append(int(y[0]))
  return images, labels


def test_slim_cifar10_png_and_raw_records(tmp_path):
  rng = np.random.RandomState(0)
  pixels = rng.randint(0, 256, (4, 32, 32, 3)).astype(np.uint8)
  _write(tmp_path / 'cifar10_test.tfrecord', [
      _example({'image/encoded': _png(pixels[0]), 'image/format': b'png',
                'image/class/label': 3, 'image/height': 32,
                'image/width': 32}),
      _example({'image/encoded': _png(pixels[1]), 'image/format': b'PNG',
                'image/class/label': 4}),
      _example({'image/encoded': pixels[2].tobytes(), 'image/format': b'raw',
                'image/class/label': 5}),
      # No image/format: Slim's CIFAR-10 reader defaults to png.
      _example({'image/encoded': _png(pixels[3]), 'image/class/label': 6}),
  ])
  dataset = dataset_factory.get_dataset('cifar10', 'test', str(tmp_path))
  images, labels = _read_all(dataset)
  assert labels == [3, 4, 5, 6]
  for got, want in zip(images, pixels):
    np.testing.assert_array_equal(got, want)


def test_slim_mnist_png_records_and_raw_default(tmp_path):
  rng = np.random.RandomState(1)
  pixels = rng.randint(0, 256, (3, 28, 28, 1)).astype(np.uint8)
  _write(tmp_path / 'mnist_train.tfrecord', [
      # What Slim's converter writes: 28x28x1 PNG, format 'png'.
      _example({'image/encoded': _png(pixels[0]), 'image/format': b'png',
                'image/class/label': 7, 'image/height': 28,
                'image/width': 28}),
      # Slim's MNIST reader defaults a missing format to 'raw'.
      _example({'image/encoded': pixels[1].tobytes(),
                'image/class/label': 8}),
      _example({'image/encoded': pixels[2].tobytes(), 'image/format': b'RAW',
                'image/class/label': 9}),
  ])
  dataset = dataset_factory.get_dataset('mnist', 'train', str(tmp_path))
  images, labels = _read_all(dataset)
  assert labels == [7, 8, 9]
  for got, want in zip(images, pixels):
    assert got.shape == (28, 28, 1)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize('spelling', [b'jpg', b'jpeg', b'JPEG', b'JPG'])
def test_every_jpeg_spelling_decodes(tmp_path, spelling):
  rng = np.random.RandomState(2)
  pixels = np.repeat(np.repeat(rng.randint(0, 256, (5, 6, 3)), 8, 0), 8, 1)
  pixels = pixels.astype(np.uint8)  # 40x48, smooth enough for JPEG.
  data = _jpeg(pixels)
  _write(tmp_path / 'flowers_train_00000-of-00001.tfrecord', [
      _example({'image/encoded': data, 'image/format': spelling,
                'image/class/label': 2, 'image/height': 40,
                'image/width': 48})])
  dataset = dataset_factory.get_dataset('flowers', 'train', str(tmp_path))
  images, labels = _read_all(dataset)
  assert labels == [2]
  assert images[0].shape == (40, 48, 3)
  reference = np.asarray(Image.open(io.BytesIO(data)).convert('RGB'))
  assert np.abs(images[0].astype(int) - reference.astype(int)).mean() < 2


def test_flowers_mixed_formats_and_raw_with_height_width(tmp_path):
  rng = np.random.RandomState(3)
  a = rng.randint(0, 256, (7, 9, 3)).astype(np.uint8)
  b = rng.randint(0, 256, (5, 4, 3)).astype(np.uint8)
  _write(tmp_path / 'flowers_validation_00000-of-00002.tfrecord', [
      _example({'image/encoded': _png(a), 'image/format': b'png',
                'image/class/label': 0, 'image/height': 7, 'image/width': 9})])
  _write(tmp_path / 'flowers_validation_00001-of-00002.tfrecord', [
      _example({'image/encoded': b.tobytes(), 'image/format': b'raw',
                'image/class/label': 4, 'image/height': 5, 'image/width': 4})])
  dataset = dataset_factory.get_dataset('flowers', 'validation', str(tmp_path))
  images, labels = _read_all(dataset)
  assert labels == [0, 4]
  np.testing.assert_array_equal(images[0], a)
  np.testing.assert_array_equal(images[1], b)


def test_imagenet_builder_records_with_extra_keys(tmp_path):
  rng = np.random.RandomState(4)
  for shard in range(2):
    examples = []
    for i in range(3):
      pixels = rng.randint(0, 256, (16, 20, 3)).astype(np.uint8)
      label = 1 + 500 * shard + i
      # Keys and values as Slim's build_imagenet_data.py writes them.
      examples.append(_example({
          'image/height': 16, 'image/width': 20,
          'image/colorspace': b'RGB', 'image/channels': 3,
          'image/class/label': label, 'image/class/synset': b'n01440764',
          'image/class/text': b'tench, Tinca tinca',
          'image/object/bbox/xmin': [0.1], 'image/object/bbox/xmax': [0.9],
          'image/object/bbox/ymin': [0.2], 'image/object/bbox/ymax': [0.8],
          'image/object/bbox/label': [label],
          'image/format': b'JPEG', 'image/filename': b'n01440764_1.JPEG',
          'image/encoded': _jpeg(pixels)}))
    _write(tmp_path / ('validation-%05d-of-00002' % shard), examples)
  dataset = dataset_factory.get_dataset('imagenet', 'validation',
                                        str(tmp_path))
  images, labels = _read_all(dataset)
  assert sorted(labels) == [1, 2, 3, 501, 502, 503]
  assert all(image.shape == (16, 20, 3) for image in images)


def test_grayscale_jpeg_decodes_to_three_channels(tmp_path):
  gray = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1))
  out = io.BytesIO()
  Image.fromarray(gray, mode='L').save(out, format='JPEG')
  _write(tmp_path / 'train-00000-of-00001', [
      _example({'image/encoded': out.getvalue(), 'image/format': b'JPEG',
                'image/class/label': 1})])
  dataset = dataset_factory.get_dataset('imagenet', 'train', str(tmp_path))
  images, _ = _read_all(dataset)
  assert images[0].shape == (16, 16, 3)
