"""Reads a torch state dict (`torch.save` file) into numpy, without torch.

Two container formats exist:

* zip (torch >= 1.6): a zip archive with one top-level directory holding
  `data.pkl` (the pickled object; every storage is a persistent id
  `('storage', storage_type, key, location, numel)`), `data/<key>` (the raw
  bytes of each storage) and `byteorder` ('little' or 'big'; absent means
  little).
* legacy (torch < 1.6, e.g. the 2018 pretrainedmodels files): five pickles in
  a row, then raw data: the magic number, the protocol version, a dict of
  system information, the main pickle (persistent ids `('storage',
  storage_type, root_key, location, numel, view_metadata)` with
  view_metadata None or `(view_key, offset, numel)`), and the list of root
  storage keys; then, for each key in that order, its element count as a
  little-endian int64 followed by its elements.

Nothing in the file is ever executed: the unpickler admits only the names a
state dict of tensors needs (OrderedDict, the tensor rebuild functions and the
storage types, plus argparse.Namespace, which training checkpoints carry),
each replaced by a local stand-in, and refuses every other name with an error
naming it. A tensor is a view (offset, size, stride) of a
storage; every storage is checked against the bytes the file holds before
anything is read, and every view against its storage.

Example:

    state_dict, file_format = torch_file.read('se_resnet50-ce0d4300.pth')
    state_dict['layer0.conv1.weight'].shape    # (64, 3, 7, 7), numpy
"""
import collections
import io
import pickle
import struct
import zipfile

import numpy as np

LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
LEGACY_PROTOCOL_VERSION = 1001

# torch storage type name -> numpy dtype (little-endian); bfloat16 is read as
# its 16 raw bits and widened to float32.
_STORAGE_DTYPES = {
    'FloatStorage': np.dtype('<f4'),
    'DoubleStorage': np.dtype('<f8'),
    'HalfStorage': np.dtype('<f2'),
    'BFloat16Storage': np.dtype('<u2'),
    'LongStorage': np.dtype('<i8'),
    'IntStorage': np.dtype('<i4'),
    'ShortStorage': np.dtype('<i2'),
    'CharStorage': np.dtype('i1'),
    'ByteStorage': np.dtype('u1'),
    'BoolStorage': np.dtype('?'),
}


class TorchFileError(Exception):
  """The file is not a safe, complete torch file; the message says why."""


class _Frozen(object):
  """What the unpickler hands out (shared stand-ins, storages, tensors) is
  read-only: a pickle's BUILD opcode must not be able to change it."""
  __slots__ = ()

  def __setattr__(self, name, value):
    raise TypeError('read-only')


class _StorageType(_Frozen):
  """Stand-in for `torch.FloatStorage` etc.: only its element type."""
  __slots__ = ('name', 'dtype')

  def __init__(self, name):
    object.__setattr__(self, 'name', name)
    object.__setattr__(self, 'dtype', _STORAGE_DTYPES[name])


class _Function(_Frozen):
  """Stand-in for an allowed torch function (a local one is called)."""
  __slots__ = ('function',)

  def __init__(self, function):
    object.__setattr__(self, 'function', function)

  def __call__(self, *args):
    return self.function(*args)


class _Storage(_Frozen):
  """A storage the file holds: `numel` elements of `dtype` under `key`, or a
  view of `numel` elements at `offset` into another storage (legacy)."""
  __slots__ = ('storage_type', 'key', 'numel', 'root', 'offset', 'array')

  def __init__(self, storage_type, key, numel, root=None, offset=0):
    for name, value in (('storage_type', storage_type), ('key', key),
                        ('numel', numel), ('root', root), ('offset', offset),
                        ('array', None)):  # Flat numpy array, once read.
      object.__setattr__(self, name, value)

  def set_array(self, array):
    object.__setattr__(self, 'array', array)

  def flat(self):
    if self.root is not None:
      return self.root.flat()[self.offset:self.offset + self.numel]
    return self.array


class _Tensor(_Frozen):
  """A tensor still to be read: a strided view of a storage."""
  __slots__ = ('storage', 'offset', 'size', 'stride')

  def __init__(self, storage, offset, size, stride):
    for name, value in (('storage', storage), ('offset', offset),
                        ('size', size), ('stride', stride)):
      object.__setattr__(self, name, value)


def _int_tuple(value, what):
  if not isinstance(value, (tuple, list)) or not all(
      isinstance(v, int) and not isinstance(v, bool) and v >= 0
      for v in value):
    raise TorchFileError('malformed tensor: %s %r is not a tuple of '
                         'non-negative integers' % (what, value))
  return tuple(value)


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
  """Stand-in for torch._utils._rebuild_tensor(_v2): records the view."""
  if not isinstance(storage, _Storage):
    raise TorchFileError('malformed tensor: its storage is a %s' %
                         type(storage).__name__)
  if not isinstance(storage_offset, int) or storage_offset < 0:
    raise TorchFileError('malformed tensor: storage offset %r' %
                         (storage_offset,))
  size = _int_tuple(size, 'size')
  stride = _int_tuple(stride, 'stride')
  if len(size) != len(stride):
    raise TorchFileError('malformed tensor: size %s and stride %s differ in '
                         'rank' % (size, stride))
  return _Tensor(storage, storage_offset, size, stride)


class _FrozenClass(type):
  """A class whose attributes a pickle's BUILD opcode cannot set."""

  def __setattr__(cls, name, value):
    raise TypeError('read-only')


class _Namespace(object, metaclass=_FrozenClass):
  """Stand-in for argparse.Namespace (the training arguments a timm training
  checkpoint carries beside its state dict): takes its fields, runs nothing."""

  def __init__(self, **unused_kwargs):
    pass


def _rebuild_parameter(data, *unused):
  """Stand-in for torch._utils._rebuild_parameter(_with_state)."""
  return data


# (module, name) -> the local object that replaces it. Nothing else unpickles.
_ALLOWED = {
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('argparse', 'Namespace'): _Namespace,
    ('torch._utils', '_rebuild_tensor'): _Function(_rebuild_tensor),
    ('torch._utils', '_rebuild_tensor_v2'): _Function(_rebuild_tensor),
    ('torch._utils', '_rebuild_parameter'): _Function(_rebuild_parameter),
    ('torch._utils', '_rebuild_parameter_with_state'):
        _Function(_rebuild_parameter),
}
for _name in _STORAGE_DTYPES:
  # Legacy files from GPU runs may name torch.cuda.FloatStorage; same bytes.
  _ALLOWED[('torch', _name)] = _StorageType(_name)
  _ALLOWED[('torch.cuda', _name)] = _StorageType(_name)
del _name


class _RestrictedUnpickler(pickle.Unpickler):
  """Resolves only the names in `_ALLOWED`; storages become `_Storage`."""

  def __init__(self, file, legacy):
    super().__init__(file, encoding='utf-8')
    self.legacy = legacy
    self.storages = {}  # key -> _Storage (roots and legacy views)

  def find_class(self, module, name):
    try:
      return _ALLOWED[(module, name)]
    except KeyError:
      hint = ''
      if name[:1].isupper() and not name.endswith('Storage'):
        hint = ('; if the file holds a whole pickled model, save '
                'model.state_dict() instead')
      raise TorchFileError(
          'refusing to unpickle %s.%s (only tensors, storages and '
          'OrderedDicts are allowed, nothing in the file is run)%s' %
          (module, name, hint)) from None

  def persistent_load(self, pid):
    if (not isinstance(pid, tuple) or not pid or pid[0] != 'storage' or
        len(pid) != (6 if self.legacy else 5)):
      raise TorchFileError('refusing persistent id %.80r (only storages are '
                           'allowed)' % (pid,))
    storage_type, key, unused_location, numel = pid[1:5]
    if not isinstance(storage_type, _StorageType):
      raise TorchFileError('malformed storage id %.80r' % (pid,))
    if not isinstance(numel, int) or numel < 0 or not isinstance(key, str):
      raise TorchFileError('malformed storage id %.80r' % (pid,))
    root = self.storages.get(key)
    if root is None:
      root = self.storages[key] = _Storage(storage_type, key, numel)
    elif root.numel != numel or root.storage_type.name != storage_type.name:
      raise TorchFileError('storage %s is declared twice with different '
                           'types or sizes' % key)
    view = pid[5] if self.legacy else None
    if view is None:
      return root
    try:
      view_key, offset, view_numel = view
    except (TypeError, ValueError):
      raise TorchFileError('malformed storage view %.80r' % (view,)) from None
    if not (isinstance(offset, int) and isinstance(view_numel, int) and
            0 <= offset and 0 <= view_numel and
            offset + view_numel <= numel):
      raise TorchFileError('storage view %s (offset %r, %r elements) reaches '
                           'past its storage %s of %d elements' %
                           (view_key, offset, view_numel, key, numel))
    return _Storage(storage_type, view_key, view_numel, root=root,
                    offset=offset)


def _unpickle(data, legacy):
  unpickler = _RestrictedUnpickler(data, legacy)
  try:
    obj = unpickler.load()
  except TorchFileError:
    raise
  except (pickle.UnpicklingError, EOFError, ValueError, TypeError,
          AttributeError, IndexError, KeyError, struct.error,
          UnicodeDecodeError, RecursionError, MemoryError) as e:
    raise TorchFileError('truncated or corrupt pickle (%s: %s)' %
                         (type(e).__name__, e)) from None
  return obj, unpickler.storages


def _plain_unpickle(data, what):
  """Loads one of the legacy header pickles (plain values only)."""
  unpickler = _RestrictedUnpickler(data, legacy=True)
  try:
    return unpickler.load()
  except TorchFileError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    raise TorchFileError('truncated or corrupt %s (%s: %s)' %
                         (what, type(e).__name__, e)) from None


def _to_array(flat, storage_type, dtype_byteorder='<'):
  """Raw bytes -> flat numpy array of the storage's element type."""
  dtype = storage_type.dtype.newbyteorder(dtype_byteorder)
  array = np.frombuffer(flat, dtype=dtype)
  if storage_type.name == 'BFloat16Storage':
    array = (array.astype(np.uint32) << 16).view(np.float32)
  return array


def _materialise(obj, path='state dict'):
  """Replaces every `_Tensor` in `obj` (dicts, lists, tuples) by an array."""
  if isinstance(obj, _Tensor):
    return _tensor_array(obj, path)
  if isinstance(obj, dict):
    result = collections.OrderedDict()
    for key, value in obj.items():
      result[key] = _materialise(value, key)
    return result
  if isinstance(obj, (list, tuple)):
    return type(obj)(_materialise(v, '%s[%d]' % (path, i))
                     for i, v in enumerate(obj))
  return obj


def _tensor_array(tensor, name):
  flat = tensor.storage.flat()
  if 0 in tensor.size:
    return np.zeros(tensor.size, dtype=flat.dtype)
  if int(np.prod(tensor.size, dtype=np.float64)) > flat.size:
    raise TorchFileError('tensor %s (size %s) has more elements than its '
                         'storage %s (%d)' % (name, list(tensor.size),
                                              tensor.storage.key, flat.size))
  last = tensor.offset + sum((n - 1) * s
                             for n, s in zip(tensor.size, tensor.stride))
  if last >= flat.size:
    raise TorchFileError(
        'tensor %s (offset %d, size %s, stride %s) reaches past its storage '
        '%s of %d elements' % (name, tensor.offset, list(tensor.size),
                               list(tensor.stride), tensor.storage.key,
                               flat.size))
  view = np.lib.stride_tricks.as_strided(
      flat[tensor.offset:], shape=tensor.size,
      strides=[s * flat.itemsize for s in tensor.stride], writeable=False)
  return np.array(view)


def _read_zip(data):
  try:
    archive = zipfile.ZipFile(io.BytesIO(data))
    infos = {info.filename: info for info in archive.infolist()}
  except (zipfile.BadZipFile, ValueError, EOFError, OSError) as e:
    raise TorchFileError('truncated or corrupt zip archive (%s)' % e) from None
  pickles = [n for n in infos if n.endswith('data.pkl') and
             n.count('/') == 1]
  if len(pickles) != 1:
    raise TorchFileError('a zip archive without one <dir>/data.pkl: not a '
                         'torch file')
  root = pickles[0][:-len('data.pkl')]
  compressed = [n for n in infos if n.startswith(root) and
                infos[n].compress_type != zipfile.ZIP_STORED]
  if compressed:
    # torch stores every record as is; a compressed one could expand far
    # beyond the file's size.
    raise TorchFileError('compressed records in the archive (%s); torch '
                         'never compresses them' % ', '.join(compressed[:3]))
  try:
    byteorder = archive.read(root + 'byteorder').decode('ascii').strip() if (
        root + 'byteorder') in infos else 'little'
    pickled = archive.read(pickles[0])
  except (zipfile.BadZipFile, ValueError, EOFError, OSError) as e:
    raise TorchFileError('truncated or corrupt zip archive (%s)' % e) from None
  if byteorder not in ('little', 'big'):
    raise TorchFileError('unknown byte order %r' % byteorder)
  obj, storages = _unpickle(io.BytesIO(pickled), legacy=False)
  for key, storage in storages.items():
    record = root + 'data/' + key
    info = infos.get(record)
    nbytes = storage.numel * storage.storage_type.dtype.itemsize
    if info is None:
      raise TorchFileError('storage %s is missing from the archive' % record)
    if info.file_size != nbytes:
      raise TorchFileError('storage %s holds %d bytes, its %d elements of %s '
                           'need %d' % (record, info.file_size, storage.numel,
                                        storage.storage_type.name, nbytes))
    try:
      raw = archive.read(record)
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as e:
      raise TorchFileError('truncated or corrupt storage %s (%s)' %
                           (record, e)) from None
    storage.set_array(_to_array(raw, storage.storage_type,
                                '<' if byteorder == 'little' else '>'))
  return obj


def _read_legacy(data):
  stream = io.BytesIO(data)
  magic = _plain_unpickle(stream, 'header')
  if magic != LEGACY_MAGIC_NUMBER:
    raise TorchFileError('not a torch file (a pickle without torch\'s magic '
                         'number)')
  protocol = _plain_unpickle(stream, 'header')
  if protocol != LEGACY_PROTOCOL_VERSION:
    raise TorchFileError('unsupported legacy torch protocol %r' % (protocol,))
  sys_info = _plain_unpickle(stream, 'header')
  if isinstance(sys_info, dict) and not sys_info.get('little_endian', True):
    raise TorchFileError('saved on a big-endian machine; not supported')
  obj, storages = _unpickle(stream, legacy=True)
  keys = _plain_unpickle(stream, 'storage key list')
  if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
    raise TorchFileError('malformed storage key list')
  roots = {k: s for k, s in storages.items() if s.root is None}
  if set(keys) != set(roots):
    raise TorchFileError('the storage key list does not match the storages '
                         'the tensors use (%d listed, %d used)' %
                         (len(keys), len(roots)))
  for key in keys:
    storage = roots[key]
    header = stream.read(8)
    if len(header) != 8:
      raise TorchFileError('truncated file: storage %s is missing' % key)
    (numel,) = struct.unpack('<q', header)
    if numel != storage.numel:
      raise TorchFileError('storage %s holds %d elements, the tensors say %d'
                           % (key, numel, storage.numel))
    nbytes = numel * storage.storage_type.dtype.itemsize
    remaining = len(data) - stream.tell()
    if nbytes > remaining:
      raise TorchFileError('truncated file: storage %s needs %d bytes, %d '
                           'remain' % (key, nbytes, remaining))
    storage.set_array(_to_array(stream.read(nbytes), storage.storage_type))
  return obj


def detect_format(data):
  """'torch-zip', 'torch-legacy', 'torch-tar' or None, from the first bytes."""
  if data[:4] == b'PK\x03\x04':
    return 'torch-zip'
  if data[:1] == b'\x80':  # A pickle of protocol >= 2.
    return 'torch-legacy'
  if len(data) > 262 and data[257:262] == b'ustar':
    return 'torch-tar'
  return None


def read_bytes(data):
  """Parses a torch file's bytes; returns (object with numpy arrays, format).

  Raises:
    TorchFileError: not a torch file, refused, truncated or inconsistent.
  """
  file_format = detect_format(data)
  if file_format == 'torch-zip':
    obj = _read_zip(data)
  elif file_format == 'torch-legacy':
    obj = _read_legacy(data)
  elif file_format == 'torch-tar':
    raise TorchFileError('a tar-format torch file (torch < 0.4); load and '
                         're-save it with a newer torch')
  else:
    raise TorchFileError('not a torch file (neither a zip archive nor a '
                         'legacy torch pickle)')
  return _materialise(obj), file_format


def read(path):
  """Reads a torch file; returns (object with numpy arrays, format)."""
  with open(path, 'rb') as f:
    return read_bytes(f.read())
