"""Finding and reading checkpoints: prefixes, directories, state files.

A checkpoint is named by its prefix (`/tmp/train/model.ckpt-120`, the name
before `.index`) or by its directory, whose state file (`checkpoint`) names
the latest. A state file is only ever resolved inside its own directory, so a
copied or moved train_dir uses its own checkpoints, never the original's.

    checkpoint = resolve_checkpoint('/tmp/train')     # its latest prefix
    shapes = load_reader(checkpoint).get_variable_to_shape_map()
    global_step_of(checkpoint)                        # e.g. 120
"""
import dataclasses
import os
import re
from typing import List, Optional, Tuple

from absl import logging

from checkpointing.errors import CheckpointMismatchError
from checkpointing.errors import NotACheckpointError
from checkpointing.errors import op_error_detail
from checkpointing.names import checkpoint_step
from runtime.tf_compat import tf, v1

# The state file TensorFlow's savers keep in a checkpoint directory.
STATE_FILE = 'checkpoint'


def checkpoint_exists(prefix):
  """Whether checkpoint `prefix` has its files (`<prefix>.index`, or a V1
  checkpoint file of that name)."""
  return bool(tf.io.gfile.exists(prefix + '.index') or
              (tf.io.gfile.exists(prefix) and not tf.io.gfile.isdir(prefix)))


def load_reader(checkpoint):
  """`tf.train.load_checkpoint`, with a one-line error for a file that is
  not a checkpoint (random bytes, a truncated or foreign file).

  Raises:
    NotACheckpointError: naming `checkpoint` and what TensorFlow said.
  """
  try:
    return tf.train.load_checkpoint(checkpoint)
  except tf.errors.OpError as e:
    raise NotACheckpointError(checkpoint, op_error_detail(e)) from None


def _real_dir(path):
  if '://' in path:  # gs://, hdfs://: compare as written.
    return path.rstrip('/')
  return os.path.realpath(path)


def is_inside(path, directory):
  """Whether file or prefix `path` lies directly in `directory`."""
  return _real_dir(os.path.dirname(path) or '.') == _real_dir(directory)


@dataclasses.dataclass
class DirectoryState:
  """A directory's checkpoints as its state file lists them, every one
  resolved inside the directory (see `directory_state`).

  Attributes:
    directory: the directory, as given.
    latest: its newest checkpoint prefix, or None.
    all_paths: the listed checkpoints that exist there, oldest first.
    relocated: (path in the state file, path used) for each entry that named
      another directory (the state file of a copied or moved directory, or
      one written by another tool with absolute paths).
    missing: listed entries absent from the directory.
    state_file_found: whether the directory has a state file at all.
    clean: whether the state file already says just this, by file names
      relative to the directory.
  """
  directory: str
  latest: Optional[str] = None
  all_paths: List[str] = dataclasses.field(default_factory=list)
  relocated: List[Tuple[str, str]] = dataclasses.field(default_factory=list)
  missing: List[str] = dataclasses.field(default_factory=list)
  state_file_found: bool = False
  clean: bool = True

  def notes(self):
    """Log lines about what was resolved differently from the state file."""
    lines = []
    if self.relocated:
      original, used = self.relocated[-1]
      lines.append(
          'the checkpoint state file of %s names checkpoints in another '
          'directory (e.g. %s: the directory was copied or moved, or another '
          'tool wrote the file); using the checkpoints of the same name in '
          '%s instead (e.g. %s), never the other directory\'s' % (
              self.directory, original, self.directory, used))
    if self.missing:
      lines.append('the checkpoint state file of %s lists %d checkpoints '
                   'that are not there (e.g. %s); ignoring them' % (
                       self.directory, len(self.missing), self.missing[-1]))
    return lines


def directory_state(directory):
  """Reads `directory`'s checkpoint state file, resolving it inside.

  The one place checkpoint state files are read (training resumes, roll-back
  after divergence, evaluation, export). An entry naming another directory
  (TensorFlow's savers used to write absolute paths, so a copied or moved
  train_dir still names the original) is resolved by its file name inside
  `directory`; nothing outside `directory` is ever returned.

  Returns:
    A `DirectoryState`.

  Example:
    state = directory_state('/tmp/train_copy')
    state.latest      # '/tmp/train_copy/model.ckpt-60'
  """
  result = DirectoryState(directory=directory)
  try:
    state = tf.train.get_checkpoint_state(directory)
  except ValueError:  # A state file without model_checkpoint_path.
    state = None
  if state is None:
    result.state_file_found = tf.io.gfile.exists(
        os.path.join(directory, STATE_FILE))
    return result
  result.state_file_found = True
  for path in state.all_model_checkpoint_paths:
    inside = _resolve_inside(result, path)
    if inside and inside not in result.all_paths:
      result.all_paths.append(inside)
  _set_latest(result, _resolve_inside(result, state.model_checkpoint_path))
  result.clean = not result.relocated and not result.missing and all(
      not os.path.isabs(p) and os.sep not in p for p in _raw_entries(directory))
  return result


def _resolve_inside(result, path):
  """The checkpoint of `path`'s file name inside `result.directory` (noted
  in `result.relocated` if `path` named another directory), or None, with
  `path` noted in `result.missing`, if there is none."""
  inside = os.path.join(result.directory, os.path.basename(path))
  if not checkpoint_exists(inside):
    if path not in result.missing:
      result.missing.append(path)
    return None
  if not is_inside(path, result.directory):
    result.relocated.append((path, inside))
  return inside


def _set_latest(result, latest):
  """Makes `latest` (or, if the state file's latest is gone, the listed
  checkpoint of the highest step) the last of `result.all_paths`."""
  if latest is None and result.all_paths:
    latest = max(result.all_paths,
                 key=lambda p: (checkpoint_step(p) or -1,
                                result.all_paths.index(p)))
  if latest is not None:
    if latest in result.all_paths:
      result.all_paths.remove(latest)
    result.all_paths.append(latest)
  result.latest = latest


def _raw_entries(directory):
  """The paths of `directory`'s state file as written (not made absolute)."""
  try:
    with tf.io.gfile.GFile(os.path.join(directory, STATE_FILE)) as f:
      text = f.read()
  except tf.errors.OpError:
    return []
  return re.findall(r'model_checkpoint_paths?:\s*"([^"]*)"', text)


def write_directory_state(state):
  """Rewrites `state.directory`'s state file with file names only (relative
  to the directory), listing `state.all_paths` and `state.latest`.

  A directory whose state file names only its own files by relative name
  resumes from its own checkpoints wherever it is copied, moved or mounted.
  """
  if state.latest is None:
    return
  names = [os.path.basename(p) for p in state.all_paths]
  proto = v1.train.generate_checkpoint_state_proto(
      os.path.abspath(state.directory), os.path.basename(state.latest),
      all_model_checkpoint_paths=names)
  path = os.path.join(state.directory, STATE_FILE)
  tmp = path + '.tmp'
  with tf.io.gfile.GFile(tmp, 'w') as f:
    f.write(str(proto))
  tf.io.gfile.rename(tmp, path, overwrite=True)
  state.clean = True


_REPORTED = set()


def _log_once(lines):
  for line in lines:
    if line not in _REPORTED:
      _REPORTED.add(line)
      logging.warning('%s', line)


def latest_checkpoint(directory):
  """The newest checkpoint of `directory` (resolved inside it, see
  `directory_state`), or None; logs (once) what was resolved differently."""
  state = directory_state(directory)
  _log_once(state.notes())
  return state.latest


def resolve_checkpoint(path):
  """A checkpoint prefix from a file prefix or a directory (its latest)."""
  if tf.io.gfile.isdir(path):
    latest = latest_checkpoint(path)
    if not latest:
      raise CheckpointMismatchError('No checkpoint found in directory %s' %
                                    path)
    return latest
  if not tf.io.gfile.glob(path + '*'):
    raise CheckpointMismatchError('No checkpoint at %s' % path)
  return path


def global_step_of(checkpoint):
  """The global step of a checkpoint prefix: its `global_step` tensor, else
  the `-N` suffix of its name (`checkpoint_step`), else None.

  Raises:
    NotACheckpointError: the file cannot be read.
  """
  reader = load_reader(checkpoint)
  if reader.has_tensor('global_step'):
    try:
      return int(reader.get_tensor('global_step'))
    except tf.errors.OpError as e:
      raise NotACheckpointError(checkpoint, op_error_detail(e)) from None
  return checkpoint_step(checkpoint)
