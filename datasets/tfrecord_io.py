"""Writing and reading Slim-format `tf.train.Example` TFRecords.

One Example per image, with Slim's keys: `image/encoded` (bytes),
`image/format` (bytes), `image/class/label` (int64), `image/height` and
`image/width` (int64). Files are written atomically: to a temporary name in the
same directory, then renamed, so a crash never leaves a half-written file under
the final name.

    records = [image_example(png, b'png', 8, 8, label).SerializeToString()]
    write_tfrecord('/tmp/digits/digits_train.tfrecord', records)
    for record in iter_records('/tmp/digits/digits_train.tfrecord'): ...
"""
import os

from datasets import errors
from runtime.tf_compat import tf, v1


def int64_feature(values):
  """Returns an int64 `tf.train.Feature` from an int or a list of ints."""
  if not isinstance(values, (tuple, list)):
    values = [values]
  return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def bytes_feature(values):
  """Returns a bytes `tf.train.Feature` from bytes or a list of bytes."""
  if not isinstance(values, (tuple, list)):
    values = [values]
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def image_example(encoded, image_format, height, width, label):
  """Builds the Example Slim's converters write for one image.

  Args:
    encoded: the encoded image (or raw pixels) as bytes.
    image_format: bytes or str, e.g. b'png', b'jpg', b'raw'.
    height: image height in pixels.
    width: image width in pixels.
    label: the integer class id.

  Returns:
    A `tf.train.Example`.

  Example:
    ex = image_example(encode_png(pixels), b'png', 32, 32, 7)
  """
  if isinstance(image_format, str):
    image_format = image_format.encode('ascii')
  return tf.train.Example(features=tf.train.Features(feature={
      'image/encoded': bytes_feature(encoded),
      'image/format': bytes_feature(image_format),
      'image/class/label': int64_feature(int(label)),
      'image/height': int64_feature(int(height)),
      'image/width': int64_feature(int(width)),
  }))


def temporary_path(path):
  """Returns the name a file is written under before its atomic rename."""
  directory, name = os.path.split(path)
  return os.path.join(directory, '.%s.tmp-%d' % (name, os.getpid()))


def write_tfrecord(path, records):
  """Writes serialized records to `path` atomically.

  Args:
    path: the final file name.
    records: an iterable of serialized `tf.train.Example` bytes.

  Returns:
    The number of records written.

  Example:
    n = write_tfrecord(os.path.join(d, 'cifar10_test.tfrecord'), records)
  """
  tmp = temporary_path(path)
  count = 0
  try:
    with tf.io.TFRecordWriter(tmp) as writer:
      for record in records:
        writer.write(record)
        count += 1
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  return count


def write_text(path, text):
  """Writes a small text file atomically (temporary name, then rename)."""
  tmp = temporary_path(path)
  try:
    with open(tmp, 'w', encoding='utf-8') as f:
      f.write(text)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def iter_records(path, limit=None):
  """Yields the serialized records of a TFRecord file, checking checksums.

  Args:
    path: a TFRecord file.
    limit: stop after this many records (None: all).

  Yields:
    bytes, one record at a time.

  Raises:
    DatasetError: naming `path`, if the file is truncated or corrupt.

  Example:
    first = next(iter_records(path, limit=1), None)
  """
  count = 0
  try:
    for record in v1.io.tf_record_iterator(path):
      if limit is not None and count >= limit:
        return
      yield record
      count += 1
  except (tf.errors.DataLossError, tf.errors.OpError) as e:
    raise errors.DatasetError(
        '%s is not a readable TFRecord file (after %d good records): %s' %
        (path, count, getattr(e, 'message', e))) from None
