"""Reads a checkpoint file into a torch state dict of numpy arrays.

The format comes from the content: safetensors (`safetensors_file`), torch's
zip or legacy format (`torch_file`). A training checkpoint's `state_dict` or
`model` entry and DataParallel's `module.` prefix are unwrapped. No TensorFlow
here: a file that cannot be read fails before TensorFlow is imported.

Example:

    state, file_format, sha256 = reader.read_state_dict('model.safetensors')
"""
import collections
import hashlib

import numpy as np

from torch_checkpoints import safetensors_file
from torch_checkpoints import torch_file
from torch_checkpoints.errors import ConversionError, UsageError


def short_list(items, limit=6):
  """'a, b, c ... (+4 more)' for error messages."""
  items = list(items)
  shown = ', '.join(items[:limit])
  return shown + (' ... (+%d more)' % (len(items) - limit)
                  if len(items) > limit else '')


def read_state_dict(path):
  """Reads a file; returns (state dict of numpy arrays, format, sha256).

  Raises:
    ConversionError: unsafe, truncated, or not a state dict; the message
      starts with `path`.
    UsageError: the file cannot be opened.
  """
  try:
    with open(path, 'rb') as f:
      data = f.read()
  except OSError as e:
    raise UsageError('%s: cannot read the input (%s)' %
                     (path, e.strerror or e)) from None
  digest = hashlib.sha256(data).hexdigest()
  try:
    if safetensors_file.looks_like_safetensors(data):
      obj, file_format = safetensors_file.read_bytes(data), 'safetensors'
    elif path.endswith('.safetensors') and not torch_file.detect_format(data):
      raise safetensors_file.SafetensorsFileError(
          'truncated or corrupt safetensors file (no valid header)')
    else:
      obj, file_format = torch_file.read_bytes(data)
  except (torch_file.TorchFileError,
          safetensors_file.SafetensorsFileError) as e:
    raise ConversionError('%s: %s' % (path, e)) from None
  del data
  try:
    return unwrap_state_dict(obj), file_format, digest
  except ConversionError as e:
    raise ConversionError('%s: %s' % (path, e)) from None


def unwrap_state_dict(obj):
  """The state dict inside `obj`: {name: numpy array}.

  Unwraps a `state_dict` or `model` entry (training checkpoints) and a
  `module.` prefix (DataParallel).

  Raises:
    ConversionError: `obj` is not a dict of tensors.
  """
  if not isinstance(obj, dict):
    raise ConversionError('not a state dict: the file holds a %s, not a dict '
                          'of tensors' % type(obj).__name__)
  for wrapper in ('state_dict', 'model'):
    inner = obj.get(wrapper)
    if isinstance(inner, dict) and not isinstance(obj.get('conv1.weight'),
                                                  np.ndarray):
      obj = inner
      break
  non_tensors = [k for k, v in obj.items() if not isinstance(v, np.ndarray)]
  if not obj or non_tensors:
    raise ConversionError(
        'not a state dict: %s' % (
            'the dict is empty' if not obj else
            'entries %s hold %s, not tensors' % (
                short_list(map(str, non_tensors), 4),
                type(obj[non_tensors[0]]).__name__)))
  if all(isinstance(k, str) and k.startswith('module.') for k in obj):
    obj = collections.OrderedDict((k[len('module.'):], v)
                                  for k, v in obj.items())
  return collections.OrderedDict(obj)


