"""Tiny archives in the exact upstream formats, for tests, benchmarks, demos.

The converters are tested offline on these: a CIFAR-10 python tarball whose
batches are pickled the way the real ones are (Python 2 cPickle, protocol 2,
byte strings, numpy 1.x array reduction), a `flower_photos.tgz`-style tarball of
JPEG folders, and MNIST's gzip'ed IDX files.

    write_cifar10_tarball(path, train_images, train_labels, test_images,
                          test_labels)
    write_mnist_files(directory, train_images, train_labels, test_images,
                      test_labels)
    write_flowers_tarball(path, {'daisy': [rgb_uint8, ...], ...})
"""
import gzip
import io
import os
import struct
import tarfile

import numpy as np

# Pickle opcodes (protocol 2), as Python 2's cPickle writes them.
_PROTO2 = b'\x80\x02'
_MARK = b'('
_STOP = b'.'
_EMPTY_DICT = b'}'
_SETITEMS = b'u'
_EMPTY_LIST = b']'
_APPENDS = b'e'
_TUPLE = b't'
_EMPTY_TUPLE = b')'
_NONE = b'N'
_NEWTRUE = b'\x88'
_NEWFALSE = b'\x89'
_REDUCE = b'R'
_BUILD = b'b'


def _global(module, name):
  return b'c' + module.encode() + b'\n' + name.encode() + b'\n'


def _py2_str(data):
  if len(data) < 256:
    return b'U' + bytes([len(data)]) + data
  return b'T' + struct.pack('<i', len(data)) + data


def _py2_int(value):
  if 0 <= value < 256:
    return b'K' + bytes([value])
  if 0 <= value < 65536:
    return b'M' + struct.pack('<H', value)
  return b'J' + struct.pack('<i', value)


def _py2_dtype_uint8():
  return b''.join([
      _global('numpy', 'dtype'), _MARK, _py2_str(b'u1'), _py2_int(0),
      _py2_int(1), _TUPLE, _REDUCE,
      _MARK, _py2_int(3), _py2_str(b'|'), _NONE, _NONE, _NONE, _py2_int(-1),
      _py2_int(-1), _py2_int(0), _TUPLE, _BUILD])


def _py2_ndarray(array):
  array = np.ascontiguousarray(array)
  if array.dtype != np.uint8:
    raise ValueError('only uint8 arrays are emitted, got %s' % array.dtype)
  shape = _MARK + b''.join(_py2_int(d) for d in array.shape) + _TUPLE
  return b''.join([
      _global('numpy.core.multiarray', '_reconstruct'),
      _MARK, _global('numpy', 'ndarray'), _MARK, _py2_int(0), _TUPLE,
      _py2_str(b'b'), _TUPLE, _REDUCE,
      _MARK, _py2_int(1), shape, _py2_dtype_uint8(), _NEWFALSE,
      _py2_str(array.tobytes()), _TUPLE, _BUILD])


def _py2_value(value):
  if value is None:
    return _NONE
  if isinstance(value, bool):
    return _NEWTRUE if value else _NEWFALSE
  if isinstance(value, (int, np.integer)):
    return _py2_int(int(value))
  if isinstance(value, bytes):
    return _py2_str(value)
  if isinstance(value, np.ndarray):
    return _py2_ndarray(value)
  if isinstance(value, list):
    body = b''.join(_py2_value(v) for v in value)
    return _EMPTY_LIST + (_MARK + body + _APPENDS if value else b'')
  if isinstance(value, tuple):
    if not value:
      return _EMPTY_TUPLE
    return _MARK + b''.join(_py2_value(v) for v in value) + _TUPLE
  if isinstance(value, dict):
    body = b''.join(_py2_value(k) + _py2_value(v) for k, v in value.items())
    return _EMPTY_DICT + (_MARK + body + _SETITEMS if value else b'')
  raise TypeError('cannot emit %s' % type(value).__name__)


def py2_pickle_dumps(obj):
  """Pickles like Python 2's `cPickle.dump(obj, f, 2)` with numpy 1.x.

  Supports dicts, lists, tuples, byte strings (Python 2 `str`), ints, None,
  bools and uint8 numpy arrays: what the CIFAR-10 batches contain.

  Example:
    data = py2_pickle_dumps({b'labels': [3, 1], b'data': pixels})
  """
  return _PROTO2 + _py2_value(obj) + _STOP


def _add_bytes(tar, name, data):
  info = tarfile.TarInfo(name)
  info.size = len(data)
  info.mode = 0o644
  tar.addfile(info, io.BytesIO(data))


def _add_dir(tar, name):
  info = tarfile.TarInfo(name)
  info.type = tarfile.DIRTYPE
  info.mode = 0o755
  tar.addfile(info)


def cifar10_batch(images, labels, batch_label=b'batch'):
  """The dict of one CIFAR-10 batch: b'data' uint8 [N, 3072] channel-major.

  Example:
    batch = cifar10_batch(images_nhwc_uint8, labels)
  """
  images = np.asarray(images, np.uint8)
  data = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)
  return {
      b'batch_label': batch_label,
      b'labels': [int(x) for x in labels],
      b'data': data,
      b'filenames': [b'img_%05d.png' % i for i in range(len(images))],
  }


def write_cifar10_tarball(path, train_images, train_labels, test_images,
                          test_labels, class_names=None):
  """Writes a `cifar-10-python.tar.gz`-format tarball.

  The training images are split over data_batch_1..5 in order.

  Args:
    path: output .tar.gz path.
    train_images: uint8 [N, 32, 32, 3] (N >= 5).
    train_labels: N ints in 0..9.
    test_images: uint8 [M, 32, 32, 3].
    test_labels: M ints.
    class_names: the 10 names for batches.meta.

  Example:
    write_cifar10_tarball(tmp / 'cifar-10-python.tar.gz', x, y, xt, yt)
  """
  class_names = class_names or ['class%d' % i for i in range(10)]
  root = 'cifar-10-batches-py'
  with tarfile.open(path, 'w:gz') as tar:
    _add_dir(tar, root)
    parts = np.array_split(np.arange(len(train_images)), 5)
    for i, index in enumerate(parts, 1):
      batch = cifar10_batch(np.asarray(train_images)[index],
                            np.asarray(train_labels)[index],
                            b'training batch %d of 5' % i)
      _add_bytes(tar, '%s/data_batch_%d' % (root, i), py2_pickle_dumps(batch))
    _add_bytes(tar, root + '/test_batch',
               py2_pickle_dumps(cifar10_batch(test_images, test_labels,
                                              b'testing batch 1 of 1')))
    meta = {b'num_cases_per_batch': int(len(parts[0])),
            b'label_names': [n.encode() for n in class_names],
            b'num_vis': 3072}
    _add_bytes(tar, root + '/batches.meta', py2_pickle_dumps(meta))
    _add_bytes(tar, root + '/readme.html', b'<html>CIFAR-10 (fake)</html>')


def _idx_images(images):
  images = np.asarray(images, np.uint8)
  if images.ndim == 4:
    images = images[..., 0]
  count, rows, cols = images.shape
  return struct.pack('>IIII', 2051, count, rows, cols) + images.tobytes()


def _idx_labels(labels):
  labels = np.asarray(labels, np.uint8)
  return struct.pack('>II', 2049, len(labels)) + labels.tobytes()


def write_mnist_files(directory, train_images, train_labels, test_images,
                      test_labels):
  """Writes MNIST's four gzip'ed IDX files into `directory`.

  Example:
    write_mnist_files(tmp, x_train, y_train, x_test, y_test)
  """
  os.makedirs(directory, exist_ok=True)
  for name, data in (
      ('train-images-idx3-ubyte.gz', _idx_images(train_images)),
      ('train-labels-idx1-ubyte.gz', _idx_labels(train_labels)),
      ('t10k-images-idx3-ubyte.gz', _idx_images(test_images)),
      ('t10k-labels-idx1-ubyte.gz', _idx_labels(test_labels)),
  ):
    with gzip.open(os.path.join(directory, name), 'wb') as f:
      f.write(data)


def encode_jpeg(image, quality=90):
  """JPEG bytes of a uint8 [H, W, 3] image (needs Pillow).

  Example:
    data = encode_jpeg(synthetic_photo(rng, 240, 320))
  """
  from PIL import Image  # pylint: disable=g-import-not-at-top
  out = io.BytesIO()
  Image.fromarray(np.asarray(image, np.uint8)).save(out, format='JPEG',
                                                    quality=quality)
  return out.getvalue()


def synthetic_photo(rng, height, width):
  """A smooth random RGB image that compresses like a photo (uint8).

  Example:
    image = synthetic_photo(np.random.RandomState(0), 333, 500)
  """
  coarse = rng.uniform(0, 255, size=(height // 16 + 2, width // 16 + 2, 3))
  rows = np.linspace(0, coarse.shape[0] - 1.001, height)
  cols = np.linspace(0, coarse.shape[1] - 1.001, width)
  r0, c0 = rows.astype(int), cols.astype(int)
  fr, fc = (rows - r0)[:, None, None], (cols - c0)[None, :, None]
  image = (coarse[r0][:, c0] * (1 - fr) * (1 - fc) +
           coarse[r0 + 1][:, c0] * fr * (1 - fc) +
           coarse[r0][:, c0 + 1] * (1 - fr) * fc +
           coarse[r0 + 1][:, c0 + 1] * fr * fc)
  image += rng.normal(0, 6, size=image.shape)
  return np.clip(image, 0, 255).astype(np.uint8)


def write_flowers_tarball(path, images_by_class, quality=90):
  """Writes a `flower_photos.tgz`-format tarball of JPEG folders.

  Args:
    path: output .tgz path.
    images_by_class: {class folder name: [uint8 [H, W, 3] images]}.
    quality: JPEG quality.

  Returns:
    {archive member name: JPEG bytes}, to compare with what is read back.

  Example:
    write_flowers_tarball(tmp / 'flower_photos.tgz', {'daisy': [img]})
  """
  written = {}
  with tarfile.open(path, 'w:gz') as tar:
    _add_dir(tar, 'flower_photos')
    _add_bytes(tar, 'flower_photos/LICENSE.txt', b'All images are CC-BY.\n')
    for name in sorted(images_by_class):
      _add_dir(tar, 'flower_photos/' + name)
      for i, image in enumerate(images_by_class[name]):
        member = 'flower_photos/%s/%d_photo.jpg' % (name, 1000 + i)
        data = encode_jpeg(image, quality)
        _add_bytes(tar, member, data)
        written[member] = data
  return written
