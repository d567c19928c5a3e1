"""Restore plans: which checkpoint tensor each graph variable takes, checked.

Three things go wrong when a checkpoint meets a graph, and each is named here
before anything is restored: variables the graph has and the checkpoint lacks
(*missing*), tensors the checkpoint has and the graph does not use (*unused*),
and tensors whose shape differs (*mismatched*; resource variables would take
the wrong shape silently on restore). Every restore of the project is planned
here: warm starts (`plan_restore`), evaluation and export (`plan_restore` with
`model_name`: a checkpoint of another network is named as such), and a
training run resuming from its own directory (`fit_problems`).

Variables are keyed by their Slim names (`checkpointing.names`), and a
checkpoint's model scope may be mapped onto the graph's
(`resnet_v1_50` -> `se_resnet_v1_50`).

    var_map, report = plan_restore('/tmp/train', v1.global_variables())
    print(report.summary())
    v1.train.Saver(var_map, reshape=False).restore(session, report.checkpoint)
"""
import dataclasses
from typing import List, Tuple

from checkpointing import files
from checkpointing import names as names_lib
from checkpointing.errors import CheckpointMismatchError

# Training state a restore for inference or a warm start does not use.
_TRAINING_STATE = ('/ExponentialMovingAverage', '/Momentum', '/Adam',
                   '/RMSProp')


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


def _fill_in_scopes(checkpoint, checkpoint_names, names, checkpoint_model_scope,
                    model_scope):
  """Checks a scope map and infers its missing half when unambiguous."""
  if checkpoint_model_scope is None and model_scope is None:
    return None, None
  graph_tops = names_lib.top_scopes(names)
  checkpoint_tops = names_lib.top_scopes(checkpoint_names)
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


def _check_exclude_scopes(exclude_scopes, names):
  for scope in exclude_scopes:
    if not any(names_lib.in_scopes(n, [scope]) for n in names):
      tops = sorted({'/'.join(n.split('/')[:2]) for n in names})
      raise CheckpointMismatchError(
          'Exclude scope %r matches no variable of the model; scopes that '
          'exist include: %s' % (scope, ', '.join(tops[:12])))


def check_same_network(checkpoint, shapes, variables, model_name,
                       known_model_names=()):
  """Raises a one-line error if no variable of the model's top-level scopes
  is in the checkpoint (a checkpoint of another network).

  Args:
    checkpoint: the checkpoint prefix, for the message.
    shapes: the checkpoint's {name: shape}.
    variables: the model's variables (any style).
    model_name: the network's name, for the message.
    known_model_names: network names; a checkpoint scope among them is
      suggested as `--model_name`.
  """
  model_tops = names_lib.top_scopes(names_lib.slim_name(v) for v in variables)
  ckpt_tops = names_lib.top_scopes(shapes)
  if set(model_tops) & set(ckpt_tops):
    return
  known = [t for t in ckpt_tops if t in known_model_names]
  hint = ('; pass --model_name=%s' % known[0] if known else
          '; pass the --model_name it was trained with')
  raise CheckpointMismatchError(
      'checkpoint %s does not hold a %s: its variables are under %s, the '
      "model's under %s%s" % (checkpoint, model_name,
                              ', '.join(ckpt_tops) or 'no scope',
                              ', '.join(model_tops), hint))


def _match(report, shapes, variables, checkpoint_model_scope=None,
           model_scope=None, exclude_scopes=(), ignore_missing_vars=False,
           fresh_scopes=()):
  """The plan itself: fills `report`; returns (var_map, missing keys)."""
  var_map, missing = {}, []
  for variable in variables:
    name = names_lib.variable_name(variable)
    slim_name = names_lib.slim_name(variable)
    if names_lib.in_scopes(name, exclude_scopes):
      report.excluded.append(slim_name)
      continue
    key = names_lib.map_scope(slim_name, model_scope, checkpoint_model_scope)
    if key not in shapes:
      if ignore_missing_vars or any(s in name for s in fresh_scopes):
        report.fresh.append(slim_name)
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
      n for n in shapes if n == 'global_step' or
      any(state in n for state in _TRAINING_STATE)})
  return var_map, missing


def plan_restore(checkpoint_path, variables, checkpoint_model_scope=None,
                 model_scope=None, exclude_scopes=(), ignore_missing_vars=False,
                 fresh_scopes=(), suggest_flags=False, model_name=None,
                 known_model_names=()):
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
    model_name: the network's name; if given, a checkpoint of another
      network fails first, in one line (`check_same_network`).
    known_model_names: see `check_same_network`.

  Returns:
    ({checkpoint name: variable}, RestoreReport)

  Raises:
    CheckpointMismatchError: missing variables, shape mismatches, unknown
      scopes, with the names and what to pass.

  Example:
    var_map, report = plan_restore('resnet_v1_50.ckpt', variables,
                                   checkpoint_model_scope='resnet_v1_50',
                                   model_scope='se_resnet_v1_50',
                                   fresh_scopes=('/se/',))
  """
  checkpoint = files.resolve_checkpoint(checkpoint_path)
  shapes = files.load_reader(checkpoint).get_variable_to_shape_map()
  if model_name is not None:
    check_same_network(checkpoint, shapes, variables, model_name,
                       known_model_names)
  names = [names_lib.variable_name(v) for v in variables]
  checkpoint_model_scope, model_scope = _fill_in_scopes(
      checkpoint, list(shapes), names, checkpoint_model_scope, model_scope)
  _check_exclude_scopes(exclude_scopes, names)
  report = RestoreReport(checkpoint=checkpoint)
  var_map, missing = _match(
      report, shapes, variables, checkpoint_model_scope, model_scope,
      exclude_scopes, ignore_missing_vars, fresh_scopes)
  if missing or report.mismatched:
    suggestion = None
    if suggest_flags:
      suggestion = _suggest_flags(
          missing, report, shapes, model_scope, checkpoint_model_scope,
          partly_restored=bool(var_map or report.fresh))
    _raise_if_unfit(report, missing, suggestion)
  return var_map, report


def fit_problems(checkpoint, variables, max_names=8):
  """Why `variables` cannot all be restored from `checkpoint` as they are.

  For a run resuming from its own directory: every variable (slots, moving
  averages and the global step included) must be there, with its shape;
  resource variables would silently take a wrong-shaped value on current
  TensorFlow.

  Returns:
    A list of readable problems (empty when everything fits).

  Example:
    problems = fit_problems('/tmp/train/model.ckpt-60', v1.global_variables())
  """
  shapes = files.load_reader(checkpoint).get_variable_to_shape_map()
  report = RestoreReport(checkpoint=checkpoint)
  _, missing = _match(report, shapes, variables)
  missing = sorted(missing)
  mismatched = sorted('%s (checkpoint %s, model %s)' % item
                      for item in report.mismatched)
  problems = []
  if missing:
    problems.append('%d variables missing from the checkpoint: %s%s' % (
        len(missing), ', '.join(missing[:max_names]),
        ' ...' if len(missing) > max_names else ''))
  if mismatched:
    problems.append('shape mismatch: %s%s' % (
        ', '.join(mismatched[:max_names]),
        ' ...' if len(mismatched) > max_names else ''))
  return problems


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
    scope = _suggest_model_scope(missing, shapes)
    if scope:
      return scope
  suggestions = []
  if report.mismatched:
    scopes = []
    for name, _, _ in report.mismatched:
      scope = names_lib.map_scope(name, checkpoint_model_scope,
                                  model_scope).rsplit('/', 1)[0]
      if scope not in scopes:
        scopes.append(scope)
    suggestions.append('--checkpoint_exclude_scopes=%s to leave %s freshly '
                       'initialised' % (','.join(scopes), 'it' if len(scopes)
                                        == 1 else 'them'))
  if missing and partly_restored:
    scope = _scope_of([names_lib.map_scope(m, checkpoint_model_scope,
                                           model_scope) for m in missing])
    if scope.count('/') >= 1:
      suggestions.append('--checkpoint_exclude_scopes=%s' % scope)
    suggestions.append('--ignore_missing_vars to leave the missing variables '
                       'freshly initialised')
  if not suggestions:
    return None
  return 'pass ' + ', or '.join(suggestions)


def _suggest_model_scope(missing, shapes):
  """'pass --checkpoint_model_scope=...' when most missing names are in the
  checkpoint under another top scope, else None."""
  best, fixed = None, 0
  for top in names_lib.top_scopes(shapes):
    count = sum(1 for m in missing if '/' in m and
                top + '/' + m.split('/', 1)[1] in shapes)
    if count > fixed:
      best, fixed = top, count
  if best is None or fixed * 2 < len(missing):
    return None
  return ('pass --checkpoint_model_scope=%s: the names differ only by '
          'their top scope, %s in the model and %s in the checkpoint' % (
              best, ', '.join(names_lib.top_scopes(missing)), best))


def _logits_hint(ckpt_shape, graph_shape):
  if ckpt_shape[-1] == graph_shape[-1] + 1:
    return (' (the checkpoint has one class more: pass '
            '--labels_offset=1 or exclude the logits)')
  if ckpt_shape[-1] + 1 == graph_shape[-1]:
    return (' (the checkpoint has one class less: pass '
            '--labels_offset=1 or exclude the logits)')
  return ' (exclude the logits scope to train new ones)'


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
      hint = _logits_hint(ckpt_shape, graph_shape)
    problems.append('shape mismatch for %s: checkpoint %s, model %s%s' %
                    (name, ckpt_shape, graph_shape, hint))
  if problems:
    raise CheckpointMismatchError(
        'Checkpoint %s does not fit the model%s:\n  %s\nUnused in the '
        'checkpoint: %s' % (report.checkpoint,
                            ' (to fix it, %s)' % suggestion if suggestion
                            else '', '\n  '.join(problems),
                            ', '.join(report.unused[:10]) or 'none'))
