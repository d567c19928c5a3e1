"""Writes a TF checkpoint and its sidecar atomically.

Everything is first written under a temporary prefix in the output directory
and read back; only then are the files renamed to their final names (data
first, the `.index` that makes the checkpoint visible last). If anything fails
before, the temporary files are removed and nothing is left behind.

Example:

    checkpoint_writer.write('/tmp/out/model', {'a/weights': array}, sidecar)
"""
import json
import os
import tempfile

from runtime.tf_compat import tf

v1 = tf.compat.v1

DATA_SUFFIX = '.data-00000-of-00001'
INDEX_SUFFIX = '.index'
SIDECAR_SUFFIX = '.json'


def _save(prefix, tensors):
  """One SaveV2 op in its own graph, fed the arrays (eager or not)."""
  names = list(tensors)
  with tf.Graph().as_default() as graph:
    placeholders = [v1.placeholder(tf.as_dtype(tensors[n].dtype),
                                   tensors[n].shape) for n in names]
    save = tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names,
                             shape_and_slices=[''] * len(names),
                             tensors=placeholders)
    with v1.Session(graph=graph) as session:
      session.run(save, dict(zip(placeholders, (tensors[n] for n in names))))


def _read_back(prefix, tensors):
  shapes = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
  expected = {n: list(a.shape) for n, a in tensors.items()}
  if shapes != expected:
    raise OSError('checkpoint %s reads back differently from what was '
                  'written' % prefix)


def write(prefix, tensors, sidecar):
  """Writes `prefix`.index/.data-00000-of-00001/.json, all or nothing.

  Args:
    prefix: the checkpoint prefix, `DIR/NAME`; DIR is created if missing
      (and removed again if writing fails).
    tensors: {variable name: numpy array}.
    sidecar: JSON-serialisable dict written to `prefix.json`.

  Returns:
    The list of files written.
  """
  directory, name = os.path.split(os.path.abspath(prefix))
  created = _make_directories(directory)
  try:
    return _write_in(directory, name, tensors, sidecar)
  except BaseException:
    for path in reversed(created):
      if os.path.isdir(path) and not os.listdir(path):
        os.rmdir(path)
    raise


def _make_directories(directory):
  """Creates `directory` and its missing parents; returns those created."""
  missing = []
  while not os.path.exists(directory):
    missing.append(directory)
    directory = os.path.dirname(directory)
  missing.reverse()
  for path in missing:
    os.mkdir(path)
  return missing


def _write_in(directory, name, tensors, sidecar):
  temp_dir = tempfile.mkdtemp(prefix='.%s.tmp-' % name, dir=directory)
  temp_prefix = os.path.join(temp_dir, name)
  suffixes = (DATA_SUFFIX, SIDECAR_SUFFIX, INDEX_SUFFIX)
  try:
    try:
      _save(temp_prefix, tensors)
      _read_back(temp_prefix, tensors)
    except tf.errors.OpError as e:
      raise OSError(e.message) from None
    with open(temp_prefix + SIDECAR_SUFFIX, 'w') as f:
      json.dump(sidecar, f, indent=2)
      f.write('\n')
    leftovers = sorted(set(os.listdir(temp_dir)) -
                       {name + s for s in suffixes})
    if leftovers:
      raise OSError('unexpected files from the checkpoint writer: %s' %
                    ', '.join(leftovers))
    final = os.path.join(directory, name)
    for suffix in suffixes:
      os.replace(temp_prefix + suffix, final + suffix)
    return [final + s for s in suffixes]
  finally:
    for leftover in os.listdir(temp_dir):
      os.remove(os.path.join(temp_dir, leftover))
    os.rmdir(temp_dir)
