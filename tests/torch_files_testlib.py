"""Test helpers: torch-layout state dicts in numpy and writers of torch files.

The writers produce what `torch.save` produces, without torch: the zip format
(`archive/data.pkl`, `archive/data/<key>`, `archive/byteorder`) and the legacy
format (magic number, protocol, system info, main pickle, storage keys, raw
storages), with tensors pickled as `torch._utils._rebuild_tensor_v2` over
persistent storage ids. Tests use them for full-size speed runs, storages
shared between tensors, and hostile or broken files.

Example:

    state = random_state_dict('pretrainedmodels', units=(1, 1, 1, 1),
                              depth_multiplier=0.25, se=True)
    write_legacy(state, '/tmp/x.pth')
"""
import collections
import io
import pickle
import struct
import zipfile

import numpy as np
import safetensors.numpy

_STORAGE_NAMES = {
    np.dtype('float32'): 'FloatStorage',
    np.dtype('float64'): 'DoubleStorage',
    np.dtype('float16'): 'HalfStorage',
    np.dtype('int64'): 'LongStorage',
    np.dtype('uint16'): 'BFloat16Storage',  # numpy has no bfloat16: raw bits.
}


class Global(object):
  """A name pickled as GLOBAL `module.name` (never resolved here)."""

  def __init__(self, module, name):
    self.module = module
    self.name = name

  def __call__(self, *args):
    raise AssertionError('never called')


class Call(object):
  """Pickles as a call of `Global(module, name)(*args)` (REDUCE)."""

  def __init__(self, module, name, *args):
    self.function = Global(module, name)
    self.args = args

  def __reduce__(self):
    return self.function, self.args


class Storage(object):
  """A storage reference, pickled as a persistent id."""

  def __init__(self, key, type_name, numel, view=None):
    self.key = key
    self.type_name = type_name
    self.numel = numel
    self.view = view  # legacy: (view_key, offset, numel)


class Tensor(object):
  """A tensor, pickled as `_rebuild_tensor_v2(storage, offset, size, ...)`."""

  def __init__(self, storage, offset, size, stride):
    self.storage = storage
    self.offset = offset
    self.size = size
    self.stride = stride

  def __reduce__(self):
    return (Global('torch._utils', '_rebuild_tensor_v2'),
            (self.storage, self.offset, self.size, self.stride, False,
             collections.OrderedDict()))


class _TorchPickler(pickle._Pickler):  # pylint: disable=protected-access
  """The pure-Python pickler, writing `Global`s by name, storages as ids."""

  def __init__(self, file, legacy):
    super().__init__(file, protocol=2)
    self.legacy = legacy

  def save(self, obj, save_persistent_id=True):
    if isinstance(obj, Global):
      self.write(pickle.GLOBAL + ('%s\n%s\n' % (obj.module, obj.name)).encode(
          'utf-8'))
      return
    super().save(obj, save_persistent_id)

  def persistent_id(self, obj):
    if not isinstance(obj, Storage):
      return None
    pid = ('storage', Global('torch', obj.type_name), obj.key, 'cpu',
           obj.numel)
    return pid + (obj.view,) if self.legacy else pid


def _strided(array, transpose_2d):
  """(storage data, size, stride) for `array`, optionally stored transposed
  (a non-contiguous view, as `weight.t()` would be saved)."""
  if transpose_2d and array.ndim == 2:
    data = np.ascontiguousarray(array.T).ravel()
    return data, array.shape, (1, array.shape[0])
  size = array.shape
  stride = [1] * array.ndim
  for i in range(array.ndim - 2, -1, -1):
    stride[i] = stride[i + 1] * size[i + 1]
  return np.ascontiguousarray(array).ravel(), size, tuple(stride)


def _layout_tensors(state, legacy, shared, transpose_2d):
  """(object to pickle, [(key, flat data)]) for a state dict of arrays."""
  obj = collections.OrderedDict()
  storages = []
  if shared:  # One storage per dtype, tensors at offsets (views if legacy).
    by_dtype = collections.OrderedDict()
    for name, array in state.items():
      by_dtype.setdefault(array.dtype, []).append(name)
    for index, (dtype, names) in enumerate(by_dtype.items()):
      pieces = [_strided(state[n], transpose_2d) for n in names]
      data = np.concatenate([p[0] for p in pieces])
      key = str(index)
      root = Storage(key, _STORAGE_NAMES[dtype], data.size)
      storages.append((key, data))
      offset = 0
      for name, (piece, size, stride) in zip(names, pieces):
        if legacy:
          view = Storage(key, root.type_name, data.size,
                          view=('v%s_%d' % (key, offset), offset, piece.size))
          obj[name] = Tensor(view, 0, tuple(size), tuple(stride))
        else:
          obj[name] = Tensor(root, offset, tuple(size), tuple(stride))
        offset += piece.size
    return collections.OrderedDict((n, obj[n]) for n in state), storages
  for index, (name, array) in enumerate(state.items()):
    data, size, stride = _strided(array, transpose_2d)
    key = str(index)
    storages.append((key, data))
    obj[name] = Tensor(Storage(key, _STORAGE_NAMES[array.dtype], data.size),
                        0, tuple(size), tuple(stride))
  return obj, storages


def pickle_torch(obj, legacy):
  """Pickles `obj` as torch does (Global/Call/storage stand-ins allowed)."""
  buffer = io.BytesIO()
  _TorchPickler(buffer, legacy).dump(obj)
  return buffer.getvalue()


def write_zip(state, path, shared=False, transpose_2d=False, wrap=None,
              pickled=None, root='archive'):
  """Writes `state` ({name: array}) as torch's zip format.

  Args:
    state: {name: numpy array}.
    path: output file.
    shared: all tensors of a dtype in one storage, at offsets.
    transpose_2d: 2-D tensors stored transposed (non-contiguous strides).
    wrap: if set, pickle `{wrap: state_dict, 'epoch': 3}` instead.
    pickled: pickle these bytes as data.pkl instead (hostile files).
    root: the archive's top-level directory.
  """
  obj, storages = _layout_tensors(state, False, shared, transpose_2d)
  if wrap:
    obj = {wrap: obj, 'epoch': 3}
  with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as archive:
    archive.writestr(root + '/data.pkl',
                     pickled if pickled is not None else
                     pickle_torch(obj, legacy=False))
    archive.writestr(root + '/byteorder', 'little')
    for key, data in storages:
      archive.writestr('%s/data/%s' % (root, key), data.astype(
          data.dtype.newbyteorder('<')).tobytes())
    archive.writestr(root + '/version', '3\n')


def write_legacy(state, path, shared=False, transpose_2d=False, wrap=None,
                 pickled=None):
  """Writes `state` in torch's legacy (< 1.6) format; arguments as
  `write_zip`."""
  obj, storages = _layout_tensors(state, True, shared, transpose_2d)
  if wrap:
    obj = {wrap: obj, 'epoch': 3}
  with open(path, 'wb') as f:
    f.write(pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2))
    f.write(pickle.dumps(1001, protocol=2))
    f.write(pickle.dumps({'protocol_version': 1001, 'little_endian': True,
                          'type_sizes': {'short': 2, 'int': 4, 'long': 4}},
                         protocol=2))
    f.write(pickled if pickled is not None else
            pickle_torch(obj, legacy=True))
    f.write(pickle.dumps([key for key, _ in storages], protocol=2))
    for _, data in storages:
      f.write(struct.pack('<q', data.size))
      f.write(data.astype(data.dtype.newbyteorder('<')).tobytes())


def write_safetensors(state, path):
  safetensors.numpy.save_file(
      {k: np.array(v, order='C') for k, v in state.items()}, path)


WRITERS = {'zip': write_zip, 'legacy': write_legacy,
           'safetensors': write_safetensors}


def _conv(rng, out, cin, k, groups=1):
  fan_in = cin // groups * k * k
  return (rng.standard_normal((out, cin // groups, k, k)) *
          np.sqrt(2.0 / fan_in)).astype(np.float32)


def _bn(state, prefix, n, rng):
  state[prefix + '.weight'] = (1 + 0.1 * rng.standard_normal(n)).astype(
      np.float32)
  state[prefix + '.bias'] = (0.1 * rng.standard_normal(n)).astype(np.float32)
  state[prefix + '.running_mean'] = (0.1 * rng.standard_normal(n)).astype(
      np.float32)
  state[prefix + '.running_var'] = (1 + 0.1 * rng.random(n)).astype(
      np.float32)
  state[prefix + '.num_batches_tracked'] = np.array(7, np.int64)


def random_state_dict(layout, units=(1, 1, 1, 1), depth_multiplier=1.0,
                      groups=1, se=True, num_classes=1000, se_hidden=None,
                      seed=0):
  """A random state dict in a torch key layout.

  Args:
    layout: 'pretrainedmodels' (layer0.*, se_module, last_linear), 'timm'
      (conv1, se, fc) or 'torchvision' (conv1, fc; pass se=False).
    units: units per layer.
    depth_multiplier: planes_i = max(int(base_i * dm), 8).
    groups: 1 (ResNet) or 32 (ResNeXt 32x4d).
    se: SE blocks in every unit.
    num_classes: rows of the head.
    se_hidden: function C -> SE hidden width (default C // 16).
    seed: random seed.

  Returns:
    An OrderedDict {torch key: numpy array} in torch's module order.
  """
  rng = np.random.default_rng(seed)
  state = collections.OrderedDict()
  stem = 'layer0.' if layout == 'pretrainedmodels' else ''
  se_name = 'se_module' if layout == 'pretrainedmodels' else 'se'
  head = 'last_linear' if layout == 'pretrainedmodels' else 'fc'
  se_hidden = se_hidden or (lambda c: max(1, c // 16))
  state[stem + 'conv1.weight'] = _conv(rng, 64, 3, 7)
  _bn(state, stem + 'bn1', 64, rng)
  inplanes = 64
  for layer, (base, count) in enumerate(zip((64, 128, 256, 512), units), 1):
    planes = max(int(base * depth_multiplier), 8)
    width = planes if groups == 1 else planes * 4 // 64 * groups
    for i in range(count):
      p = 'layer%d.%d.' % (layer, i)
      cin = inplanes if i == 0 else planes * 4
      state[p + 'conv1.weight'] = _conv(rng, width, cin, 1)
      _bn(state, p + 'bn1', width, rng)
      state[p + 'conv2.weight'] = _conv(rng, width, width, 3, groups)
      _bn(state, p + 'bn2', width, rng)
      state[p + 'conv3.weight'] = _conv(rng, planes * 4, width, 1)
      _bn(state, p + 'bn3', planes * 4, rng)
      if se:
        c, h = planes * 4, se_hidden(planes * 4)
        state[p + se_name + '.fc1.weight'] = _conv(rng, h, c, 1)
        state[p + se_name + '.fc1.bias'] = (
            0.1 * rng.standard_normal(h)).astype(np.float32)
        state[p + se_name + '.fc2.weight'] = _conv(rng, c, h, 1)
        state[p + se_name + '.fc2.bias'] = (
            0.1 * rng.standard_normal(c)).astype(np.float32)
      if i == 0 and (layer > 1 or cin != planes * 4):  # Stride or width.
        state[p + 'downsample.0.weight'] = _conv(rng, planes * 4, cin, 1)
        _bn(state, p + 'downsample.1', planes * 4, rng)
    inplanes = planes * 4
  state[head + '.weight'] = (rng.standard_normal((num_classes, inplanes)) /
                             np.sqrt(inplanes)).astype(np.float32)
  state[head + '.bias'] = (0.01 * rng.standard_normal(num_classes)).astype(
      np.float32)
  return state
