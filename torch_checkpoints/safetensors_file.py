"""Reads a `.safetensors` file into numpy with the safetensors package.

The format is a little-endian uint64 header length, a JSON header (name ->
dtype, shape, data offsets) and the raw data; the package checks the header
against the data, so a truncated or inconsistent file fails to load. No torch
is involved.

Example:

    state_dict = safetensors_file.read_bytes(open('model.safetensors', 'rb').read())
"""
import collections
import json
import struct

import numpy as np
import safetensors
import safetensors.numpy


class SafetensorsFileError(Exception):
  """The file is not a complete safetensors file; the message says why."""


def looks_like_safetensors(data):
  """True if `data` starts with a safetensors header (length, then '{')."""
  if len(data) < 9:
    return False
  (length,) = struct.unpack('<Q', data[:8])
  return 0 < length <= len(data) and data[8:9] == b'{'


def _header(data):
  """{name: {'dtype', 'shape', 'data_offsets'}} in the file's order."""
  (length,) = struct.unpack('<Q', data[:8])
  try:
    header = json.loads(data[8:8 + length])
  except ValueError:
    return {}
  return {k: v for k, v in header.items()
          if isinstance(v, dict) and k != '__metadata__'}


def read_bytes(data):
  """Returns {name: numpy array} in the file's order (bfloat16 -> float32).

  Raises:
    SafetensorsFileError: truncated, corrupt or with an unsupported dtype.
  """
  try:
    tensors = safetensors.numpy.load(data)
  except (safetensors.SafetensorError, ValueError, TypeError) as e:
    message = str(e)
    dtypes = [v.get('dtype') for v in _header(data).values()] if len(
        data) >= 8 else []
    if 'BF16' in dtypes or 'bfloat16' in message.lower():
      raise SafetensorsFileError(
          'bfloat16 tensors cannot be read with the numpy API; convert the '
          'file to float32 first') from None
    detail = message.splitlines()[0] if message else type(e).__name__
    raise SafetensorsFileError('truncated or corrupt safetensors file (%s)' %
                               detail) from None
  header = _header(data)
  result = collections.OrderedDict()
  for name in list(header) + sorted(set(tensors) - set(header)):
    if name in tensors:
      result[name] = np.asarray(tensors[name])
  return result
