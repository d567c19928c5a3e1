"""Restoring Slim checkpoints into any layer style, with a report.

Three things go wrong when a checkpoint meets a graph, and each is named here
before anything is restored: variables the graph has and the checkpoint lacks
(*missing*), tensors the checkpoint has and the graph does not use (*unused*),
and tensors whose shape differs (*mismatched*; resource variables would take
the wrong shape silently on restore).

Names: a Keras-style variable `<scope>/kernel` or `<scope>/bias` is stored as
Slim's `<scope>/weights` / `<scope>/biases` (`keras_to_slim_name`), so one
checkpoint serves all three styles. A checkpoint's model scope can be mapped
onto another (`resnet_v1_50` -> `se_resnet_v1_50`).

Example (warm-start SE-ResNet-50 from Slim's ResNet-50, new logits):

    init_fn, report = checkpoints.warm_start_fn(
        'resnet_v1_50.ckpt', v1.global_variables(),
        checkpoint_model_scope='resnet_v1_50', model_scope='se_resnet_v1_50',
        exclude_scopes=['se_resnet_v1_50/logits'])
    print(report.summary())
    init_fn(session)      # after the global initializer
"""
import dataclasses
import os
import re
from typing import List, Optional, Tuple

from absl import logging

from runtime.tf_compat import tf

v1 = tf.compat.v1

_KERAS_SUFFIXES = ((re.compile(r'/kernel$'), '/weights'),
                   (re.compile(r'/bias$'), '/biases'))


def keras_to_slim_name(name):
  """'a/conv1/kernel' -> 'a/conv1/weights', 'a/fc/bias' -> 'a/fc/biases'.

  Batch norm needs no mapping: Keras' BatchNormalization named
  `<conv>/BatchNorm` already has Slim's `gamma/beta/moving_mean/
  moving_variance`. Slim names are left as they are.
  """
  name = name.split(':')[0]
  for pattern, replacement in _KERAS_SUFFIXES:
    name = pattern.sub(replacement, name)
  return name


def _variable_name(variable):
  """'a/b/weights' for graph and eager variables alike (no ':0')."""
  return variable.name.split(':')[0]


def slim_name(variable):
  """The Slim checkpoint name of a variable of any style (graph or eager)."""
  return keras_to_slim_name(_variable_name(variable))


def slim_named_variables(variables):
  """{slim name: variable}, e.g. for a `Saver` that writes Slim names."""
  return {slim_name(v): v for v in variables}


class CheckpointMismatchError(ValueError):
  """A checkpoint does not fit the graph; the message says how."""


@dataclasses.dataclass
class RestoreReport:
  """What a restore did; names are Slim names in the graph's scope, except
  `restored`, `unused` and `mismatched`, which use checkpoint names."""
  checkpoint: str
  restored: List[str] = dataclasses.field(default_factory=list)
  fresh: List[str] = dataclasses.field(default_factory=list)
  excluded: List[str] = dataclasses.field(default_factory=list)
  unused: List[str] = dataclasses.field(default_factory=list)
  mismatched: List[Tuple[str, list, list]] = dataclasses.field(
      default_factory=list)  # (name, checkpoint shape, graph shape)

  def summary(self, max_names=8):
    """A few readable lines for the log."""
    def names(items):
      shown = ', '.join(items[:max_names])
      more = len(items) - max_names
      return shown + (' ... (+%d more)' % more if more > 0 else '')
    lines = ['Restored %d variables from %s' % (len(self.restored),
                                                self.checkpoint)]
    for label, items in (('initialised fresh', self.fresh),
                         ('excluded (fresh)', self.excluded),
                         ('unused in the checkpoint', self.unused)):
      if items:
        lines.append('  %s (%d): %s' % (label, len(items), names(items)))
    for name, ckpt_shape, graph_shape in self.mismatched:
      lines.append('  shape mismatch: %s checkpoint %s vs graph %s' %
                   (name, ckpt_shape, graph_shape))
    return '\n'.join(lines)


class NotACheckpointError(CheckpointMismatchError):
  """A path named as a checkpoint holds something TensorFlow cannot read.

  Attributes:
    path: the checkpoint prefix.
    detail: what TensorFlow said, on one line.
  """

  def __init__(self, path, detail, advice=None):
    super().__init__('%s is not a TensorFlow checkpoint (%s): %s' % (
        path, detail, advice or
        'pass the prefix of a checkpoint written by a tf.train.Saver (the '
        'name before .index), or copy it again if it was damaged'))
    self.path = path
    self.detail = detail


# The state file TensorFlow's savers keep in a checkpoint directory.
STATE_FILE = 'checkpoint'
_STEP_SUFFIX = re.compile(r'-(\d+)$')


def checkpoint_step(checkpoint_path):
  """The global step in a checkpoint's file name ('model.ckpt-120' -> 120),
  or None."""
  match = _STEP_SUFFIX.search(checkpoint_path or '')
  return int(match.group(1)) if match else None


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


def op_error_detail(error):
  """The line of a TensorFlow `OpError` that says what went wrong (not the
  'Graph execution error' frame around it), without a 'TensorBundle at
  <path>' prefix."""
  lines = [l.strip() for l in (error.message or '').splitlines()]
  detail = next((lines[i + 1] for i, l in enumerate(lines[:-1])
                 if l.startswith('Node: ')), None)
  detail = detail or next((l for l in lines if l), type(error).__name__)
  return re.sub(r'^TensorBundle at \S+ ', 'data file ', detail)


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

  def missing(path):
    if path not in result.missing:
      result.missing.append(path)

  def resolve(path):
    name = os.path.basename(path)
    inside = os.path.join(directory, name)
    if not is_inside(path, directory):
      if checkpoint_exists(inside):
        result.relocated.append((path, inside))
      else:
        missing(path)
        return None
    elif not checkpoint_exists(inside):
      missing(path)
      return None
    return inside

  listed = list(state.all_model_checkpoint_paths)
  for path in listed:
    inside = resolve(path)
    if inside and inside not in result.all_paths:
      result.all_paths.append(inside)
  latest = resolve(state.model_checkpoint_path)
  if latest is None and result.all_paths:
    latest = max(result.all_paths,
                 key=lambda p: (checkpoint_step(p) or -1,
                                result.all_paths.index(p)))
  if latest is not None:
    if latest in result.all_paths:
      result.all_paths.remove(latest)
    result.all_paths.append(latest)
  result.latest = latest
  result.clean = not result.relocated and not result.missing and all(
      not os.path.isabs(p) and os.sep not in p for p in _raw_entries(directory))
  return result


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


def _in_scopes(name, scopes):
  return any(name == s or name.startswith(s.rstrip('/') + '/') for s in scopes)


def _top_scopes(names):
  """Top-level scopes of `names`, ignoring unscoped ones like global_step."""
  return sorted({n.split('/')[0] for n in names if '/' in n})


def _fill_in_scopes(checkpoint, checkpoint_names, names, checkpoint_model_scope,
                    model_scope):
  """Checks a scope map and infers its missing half when unambiguous."""
  if checkpoint_model_scope is None and model_scope is None:
    return None, None
  graph_tops = _top_scopes(names)
  checkpoint_tops = _top_scopes(checkpoint_names)
  if model_scope is None:
    if len(graph_tops) != 1:
      raise CheckpointMismatchError(
          'checkpoint_model_scope=%r needs model_scope too: the model has '
          'several top-level scopes (%s)' % (checkpoint_model_scope,
                                             ', '.join(graph_tops)))
    model_scope = graph_tops[0]
  if checkpoint_model_scope is None:
    if len(checkpoint_tops) != 1:
      raise CheckpointMismatchError(
          'model_scope=%r needs checkpoint_model_scope too: checkpoint %s has '
          'several top-level scopes (%s)' % (model_scope, checkpoint,
                                             ', '.join(checkpoint_tops)))
    checkpoint_model_scope = checkpoint_tops[0]
  if checkpoint_model_scope not in checkpoint_tops and not any(
      n.startswith(checkpoint_model_scope + '/') for n in checkpoint_names):
    raise CheckpointMismatchError(
        'Checkpoint %s has no variables under scope %r; its top-level scopes '
        'are: %s' % (checkpoint, checkpoint_model_scope,
                     ', '.join(checkpoint_tops)))
  if not any(n.startswith(model_scope + '/') for n in names):
    raise CheckpointMismatchError(
        'The model has no variables under scope %r (the scope to map %r '
        'onto); its top-level scopes are: %s' % (
            model_scope, checkpoint_model_scope, ', '.join(graph_tops)))
  return checkpoint_model_scope, model_scope


def _map_scope(name, model_scope, checkpoint_model_scope):
  if model_scope is None or checkpoint_model_scope is None:
    return name
  if name == model_scope or name.startswith(model_scope + '/'):
    return checkpoint_model_scope + name[len(model_scope):]
  return name


def plan_restore(checkpoint_path, variables, checkpoint_model_scope=None,
                 model_scope=None, exclude_scopes=(), ignore_missing_vars=False,
                 fresh_scopes=(), suggest_flags=False):
  """Matches graph variables to checkpoint tensors; restores nothing.

  Args:
    checkpoint_path: a checkpoint prefix or a directory.
    variables: graph variables to consider (any style).
    checkpoint_model_scope: the model scope used in the checkpoint, e.g.
      'resnet_v1_50'; with `model_scope` it replaces that prefix of names.
      If only one of the two is given, the other is the single top-level
      scope of the checkpoint (or of `variables`).
    model_scope: the graph's model scope, e.g. 'se_resnet_v1_50'.
    exclude_scopes: graph scopes left freshly initialised (e.g. the logits).
      Each must match some variable, or the call fails naming the scopes
      that exist.
    ignore_missing_vars: report graph variables absent from the checkpoint as
      fresh instead of failing.
    fresh_scopes: graph sub-scope names (matched anywhere in the name, e.g.
      '/se/') expected to be absent and left fresh (SE blocks when warm
      starting from a plain ResNet).
    suggest_flags: on failure, also suggest the trainer's flags that fit
      (`--checkpoint_model_scope`, `--checkpoint_exclude_scopes`,
      `--ignore_missing_vars`).

  Returns:
    ({checkpoint name: variable}, RestoreReport)

  Raises:
    CheckpointMismatchError: missing variables, shape mismatches, unknown
      scopes, with the names and what to pass.
  """
  checkpoint = resolve_checkpoint(checkpoint_path)
  shapes = load_reader(checkpoint).get_variable_to_shape_map()
  report = RestoreReport(checkpoint=checkpoint)
  names = [_variable_name(v) for v in variables]
  checkpoint_model_scope, model_scope = _fill_in_scopes(
      checkpoint, list(shapes), names, checkpoint_model_scope, model_scope)
  for scope in exclude_scopes:
    if not any(_in_scopes(n, [scope]) for n in names):
      tops = sorted({'/'.join(n.split('/')[:2]) for n in names})
      raise CheckpointMismatchError(
          'Exclude scope %r matches no variable of the model; scopes that '
          'exist include: %s' % (scope, ', '.join(tops[:12])))

  var_map, missing = {}, []
  for variable in variables:
    name = _variable_name(variable)
    if _in_scopes(name, exclude_scopes):
      report.excluded.append(slim_name(variable))
      continue
    key = _map_scope(slim_name(variable), model_scope, checkpoint_model_scope)
    if key not in shapes:
      if ignore_missing_vars or any(s in name for s in fresh_scopes):
        report.fresh.append(slim_name(variable))
      else:
        missing.append(key)
      continue
    graph_shape = variable.shape.as_list()
    if shapes[key] != graph_shape:
      report.mismatched.append((key, shapes[key], graph_shape))
      continue
    var_map[key] = variable
    report.restored.append(key)
  report.unused = sorted(set(shapes) - set(var_map) - {
      n for n in shapes if n == 'global_step' or '/ExponentialMovingAverage'
      in n or '/Momentum' in n or '/Adam' in n or '/RMSProp' in n})
  if missing or report.mismatched:
    suggestion = None
    if suggest_flags:
      suggestion = _suggest_flags(
          missing, report, shapes, model_scope, checkpoint_model_scope,
          partly_restored=bool(var_map or report.fresh))
    _raise_if_unfit(report, missing, suggestion)
  return var_map, report


def _scope_of(names):
  """The deepest scope (a '/' prefix, without the last component) that all
  `names` share, or ''."""
  parts = [n.split('/')[:-1] for n in names]
  common = []
  for level in zip(*parts):
    if len(set(level)) != 1:
      break
    common.append(level[0])
  return '/'.join(common)


def _suggest_flags(missing, report, shapes, model_scope,
                   checkpoint_model_scope, partly_restored):
  """The trainer flags that would make the checkpoint fit, as a sentence,
  or None when none would."""
  if missing and checkpoint_model_scope is None:
    best, fixed = None, 0
    for top in _top_scopes(shapes):
      count = sum(1 for m in missing if '/' in m and
                  top + '/' + m.split('/', 1)[1] in shapes)
      if count > fixed:
        best, fixed = top, count
    if best is not None and fixed * 2 >= len(missing):
      return ('pass --checkpoint_model_scope=%s: the names differ only by '
              'their top scope, %s in the model and %s in the checkpoint' % (
                  best, ', '.join(_top_scopes(missing)), best))
  suggestions = []
  if report.mismatched:
    unmap = lambda n: _map_scope(n, checkpoint_model_scope, model_scope)
    scopes = []
    for name, _, _ in report.mismatched:
      scope = unmap(name).rsplit('/', 1)[0]
      if scope not in scopes:
        scopes.append(scope)
    suggestions.append('--checkpoint_exclude_scopes=%s to leave %s freshly '
                       'initialised' % (','.join(scopes), 'it' if len(scopes)
                                        == 1 else 'them'))
  if missing and partly_restored:
    scope = _scope_of([_map_scope(m, checkpoint_model_scope, model_scope)
                       for m in missing])
    if scope.count('/') >= 1:
      suggestions.append('--checkpoint_exclude_scopes=%s' % scope)
    suggestions.append('--ignore_missing_vars to leave the missing variables '
                       'freshly initialised')
  if not suggestions:
    return None
  return 'pass ' + ', or '.join(suggestions)


def _raise_if_unfit(report, missing, suggestion=None):
  problems = []
  if missing:
    problems.append('%d variables of the model are missing from the '
                    'checkpoint: %s%s' % (
                        len(missing), ', '.join(missing[:10]),
                        ' ...' if len(missing) > 10 else ''))
  for name, ckpt_shape, graph_shape in report.mismatched:
    hint = ''
    if name.endswith(('logits/weights', 'logits/biases')):
      if ckpt_shape[-1] == graph_shape[-1] + 1:
        hint = (' (the checkpoint has one class more: pass '
                '--labels_offset=1 or exclude the logits)')
      elif ckpt_shape[-1] + 1 == graph_shape[-1]:
        hint = (' (the checkpoint has one class less: pass '
                '--labels_offset=1 or exclude the logits)')
      else:
        hint = ' (exclude the logits scope to train new ones)'
    problems.append('shape mismatch for %s: checkpoint %s, model %s%s' %
                    (name, ckpt_shape, graph_shape, hint))
  if problems:
    raise CheckpointMismatchError(
        'Checkpoint %s does not fit the model%s:\n  %s\nUnused in the '
        'checkpoint: %s' % (report.checkpoint,
                            ' (to fix it, %s)' % suggestion if suggestion
                            else '', '\n  '.join(problems),
                            ', '.join(report.unused[:10]) or 'none'))


def warm_start_fn(checkpoint_path, variables, **plan_kwargs):
  """Plans a restore and returns `(init_fn(session), RestoreReport)`.

  `init_fn` restores the matched variables; run it after the initializer
  (or pass it as `Scaffold(init_fn=lambda scaffold, sess: init_fn(sess))`).
  Keyword arguments are those of `plan_restore`.
  """
  var_map, report = plan_restore(checkpoint_path, variables, **plan_kwargs)
  saver = v1.train.Saver(var_map, reshape=False) if var_map else None

  def init_fn(session):
    if saver is not None:
      try:
        saver.restore(session, report.checkpoint)
      except tf.errors.DataLossError as e:
        raise NotACheckpointError(report.checkpoint,
                                  op_error_detail(e)) from None

  return init_fn, report


def restore(session, checkpoint_path, variables=None, **plan_kwargs):
  """Restores `variables` (default: all global ones) and returns the report."""
  if variables is None:
    variables = v1.global_variables()
  init_fn, report = warm_start_fn(checkpoint_path, variables, **plan_kwargs)
  init_fn(session)
  return report


# Graph scopes of the squeeze-and-excitation blocks (`…/bottleneck_v1/se/…`),
# absent from a plain ResNet checkpoint.
SE_FRESH_SCOPES = ('/se/',)


def resnet_warm_start_options(checkpoint_path, variables, model_scope=None,
                              checkpoint_model_scope=None, fresh_logits=False,
                              exclude_scopes=()):
  """`plan_restore` keywords that warm-start an SE-ResNet from a ResNet.

  Example (a Keras model; graph code uses `warm_start_from_resnet`):

    model = nets_factory.get_keras_model('se_resnet_v1_50', num_classes=1000)
    keras_model.load_slim_checkpoint(
        model, 'resnet_v1_50.ckpt',
        **checkpoints.resnet_warm_start_options('resnet_v1_50.ckpt',
                                                model.weights))

  Args:
    checkpoint_path: the plain network's checkpoint (prefix or directory).
    variables: the SE network's variables (graph or eager).
    model_scope: the SE network's scope; default the one top-level scope of
      `variables` that holds SE variables (e.g. 'se_resnet_v1_50').
    checkpoint_model_scope: the checkpoint's scope; default `model_scope`
      without its 'se_' prefix if the checkpoint has it, else the
      checkpoint's only top-level scope.
    fresh_logits: also leave `<model_scope>/logits` freshly initialised (new
      classes).
    exclude_scopes: further graph scopes to leave fresh.

  Returns:
    A dict with checkpoint_model_scope, model_scope, exclude_scopes and
    fresh_scopes (SE blocks: `SE_FRESH_SCOPES`).

  Raises:
    CheckpointMismatchError: if a scope cannot be inferred; the message lists
      the candidates.
  """
  names = [_variable_name(v) for v in variables]
  if model_scope is None:
    tops = sorted({n.split('/')[0] for n in names
                   if any(s in n for s in SE_FRESH_SCOPES)})
    if len(tops) != 1:
      raise CheckpointMismatchError(
          'Cannot tell the SE network\'s scope: %s; pass model_scope (the '
          'model\'s top-level scopes are: %s)' % (
              'no variable is in an SE block' if not tops else
              'SE blocks under %s' % ', '.join(tops),
              ', '.join(_top_scopes(names))))
    model_scope = tops[0]
  if checkpoint_model_scope is None:
    checkpoint = resolve_checkpoint(checkpoint_path)
    checkpoint_names = list(
        load_reader(checkpoint).get_variable_to_shape_map())
    plain = model_scope[len('se_'):] if model_scope.startswith('se_') else None
    checkpoint_tops = _top_scopes(checkpoint_names)
    if plain in checkpoint_tops:
      checkpoint_model_scope = plain
    elif len(checkpoint_tops) == 1:
      checkpoint_model_scope = checkpoint_tops[0]
    else:
      raise CheckpointMismatchError(
          'Cannot tell which scope of checkpoint %s to map onto %r; pass '
          'checkpoint_model_scope, one of: %s' % (
              checkpoint, model_scope, ', '.join(checkpoint_tops)))
  exclude_scopes = list(exclude_scopes)
  if fresh_logits:
    exclude_scopes.append(model_scope + '/logits')
  return dict(checkpoint_model_scope=checkpoint_model_scope,
              model_scope=model_scope, exclude_scopes=exclude_scopes,
              fresh_scopes=SE_FRESH_SCOPES)


def warm_start_from_resnet(checkpoint_path, variables, model_scope=None,
                           checkpoint_model_scope=None, fresh_logits=False,
                           exclude_scopes=(), ignore_missing_vars=False):
  """Warm-starts an SE-ResNet graph from a plain ResNet v1 checkpoint.

  Every variable outside the SE blocks (and the logits, if `fresh_logits`)
  must be in the checkpoint under the mapped scope with the same shape, and is
  restored exactly; the SE blocks keep their initial values (build the
  network with e.g. `se_fc2_bias_init=5.0` so that the gates start near 1 and
  the network near the plain one's function).

  Example:

    logits, _ = nets_factory.get_network_fn(
        'se_resnet_v1_50', 1000, se_fc2_bias_init=5.0)(images)
    init_fn, report = checkpoints.warm_start_from_resnet(
        'resnet_v1_50.ckpt', v1.global_variables())
    print(report.summary())   # restored 267, initialised fresh 64 (SE)
    init_fn(session)          # after the global initializer

  Args:
    checkpoint_path: e.g. Slim's 'resnet_v1_50.ckpt' (or a directory).
    variables: the SE network's variables.
    model_scope, checkpoint_model_scope, fresh_logits, exclude_scopes: as in
      `resnet_warm_start_options`.
    ignore_missing_vars: as in `plan_restore`.

  Returns:
    (init_fn(session), RestoreReport), as `warm_start_fn`.

  Raises:
    CheckpointMismatchError: unknown scopes, missing non-SE variables, or
      shape mismatches, with the names and both shapes.
  """
  options = resnet_warm_start_options(
      checkpoint_path, variables, model_scope=model_scope,
      checkpoint_model_scope=checkpoint_model_scope,
      fresh_logits=fresh_logits, exclude_scopes=exclude_scopes)
  return warm_start_fn(checkpoint_path, variables,
                       ignore_missing_vars=ignore_missing_vars, **options)
