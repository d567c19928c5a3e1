"""A restricted unpickler for the CIFAR-10 python batches.

A pickle can name any importable callable and call it while loading (that is
how `__reduce__` works), so loading a downloaded pickle with `pickle.load` can
run arbitrary code. This unpickler admits exactly the globals that numpy
arrays need and nothing else:

* `numpy.core.multiarray._reconstruct` (and numpy 2's `numpy._core...`),
* `numpy.ndarray` and `numpy.dtype`,
* `numpy.core.numeric._frombuffer` (numpy 2: `numpy._core...`), which numpy
  uses instead of `_reconstruct` under pickle protocol 5,
* `_codecs.encode`, which Python 3 uses for bytes in protocol-2 pickles, and
  only with the latin-1 codec.

Any other global (`os.system`, `builtins.eval`, `subprocess.Popen`, ...) raises
`UnsafePickleError` before it is even looked up, so nothing runs.

    with open('cifar-10-batches-py/data_batch_1', 'rb') as f:
      batch = load(f, source='data_batch_1')   # {b'data': ..., b'labels': ...}
"""
import codecs
import io
import pickle

from datasets import errors

import numpy as np

# pylint: disable=g-import-not-at-top
try:  # numpy >= 2
  from numpy._core import multiarray as _multiarray
  from numpy._core import numeric as _numeric
except ImportError:  # numpy 1.x
  from numpy.core import multiarray as _multiarray
  from numpy.core import numeric as _numeric
# pylint: enable=g-import-not-at-top

_LATIN1 = frozenset(['latin1', 'latin-1', 'iso-8859-1', 'iso8859-1', 'l1'])


def _latin1_encode(text, encoding='utf-8'):
  """`_codecs.encode` restricted to the latin-1 use pickle makes of it."""
  if not isinstance(text, str) or str(encoding).lower() not in _LATIN1:
    raise errors.UnsafePickleError(
        'refusing _codecs.encode with encoding %r: only latin-1 is admitted' %
        (encoding,))
  return codecs.encode(text, 'latin1')


# pylint: disable=protected-access
ALLOWED_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'): _multiarray._reconstruct,
    ('numpy._core.multiarray', '_reconstruct'): _multiarray._reconstruct,
    ('numpy.core.numeric', '_frombuffer'): _numeric._frombuffer,
    ('numpy._core.numeric', '_frombuffer'): _numeric._frombuffer,
    ('numpy', 'ndarray'): np.ndarray,
    ('numpy', 'dtype'): np.dtype,
    ('_codecs', 'encode'): _latin1_encode,
}
# pylint: enable=protected-access


class RestrictedUnpickler(pickle.Unpickler):
  """An Unpickler whose `find_class` admits only `ALLOWED_GLOBALS`."""

  def __init__(self, file, source='<pickle>', **kwargs):
    super().__init__(file, **kwargs)
    self._source = source

  def find_class(self, module, name):
    try:
      return ALLOWED_GLOBALS[(module, name)]
    except KeyError:
      raise errors.UnsafePickleError(
          '%s: refusing to unpickle global %s.%s (only numpy arrays are '
          'admitted: %s); nothing was run' %
          (self._source, module, name,
           ', '.join(sorted('%s.%s' % k for k in ALLOWED_GLOBALS)))) from None

  def persistent_load(self, pid):
    raise errors.UnsafePickleError(
        '%s: refusing persistent id %r' % (self._source, pid))


def load(file, source='<pickle>'):
  """Loads a pickle from a binary file object, admitting only numpy arrays.

  Byte strings of Python 2 pickles stay `bytes` (encoding='bytes'), as the
  CIFAR-10 page recommends, so keys are b'data', b'labels'.

  Args:
    file: a binary file object.
    source: a name for error messages (e.g. the file name).

  Returns:
    The unpickled object.

  Raises:
    UnsafePickleError: if the pickle names any other global.
    DatasetError: if the data is not a valid pickle.

  Example:
    batch = load(open(path, 'rb'), source=path)
  """
  try:
    return RestrictedUnpickler(file, source=source, encoding='bytes').load()
  except errors.DatasetError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    raise errors.DatasetError('%s is not a valid pickle: %s: %s' %
                              (source, type(e).__name__, e)) from None


def loads(data, source='<pickle>'):
  """Like `load`, from bytes.

  Example:
    loads(pickle.dumps({b'labels': [1, 2]}, protocol=2))
  """
  return load(io.BytesIO(data), source=source)
