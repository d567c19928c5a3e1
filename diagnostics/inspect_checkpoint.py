r"""Lists a checkpoint's variables and diffs it against a network.

  python -m diagnostics.inspect_checkpoint --checkpoint_path=/tmp/train
  python -m diagnostics.inspect_checkpoint --checkpoint_path=/tmp/resnet_v1_50.ckpt \
      --model_name=se_resnet_v1_50 --layer_style=keras

Without a model: every variable with its shape, dtype and size, and the
total. With `--model_name` (and the model flags used to train it: layer
style, SE options, depth multiplier, `--num_classes`, by default read from the
checkpoint's logits): the variables the model has and the checkpoint lacks
(*missing*), the checkpoint's tensors the model does not use (*unused*; the
global step, optimizer slots and moving averages are training state and are
counted apart), and shape mismatches. Names are compared as Slim names, so a
Keras-style model diffs against a Slim checkpoint. When the top-level scopes
differ (`resnet_v1_50` vs `se_resnet_v1_50`), the prefix mapping that matches
most variables is guessed and the diff is shown under it as well.

The last line is the verdict, judged as the trainer judges a warm start:
`fits: yes` (restores as is), or, naming the trainer flags that make it
fit: `with the scope mapping` (names differ by their top scope), `as a warm
start` (an SE network from a plain ResNet checkpoint: the SE blocks start
fresh, as `train_image_classifier.py` leaves them), `with new logits`
(another number of classes); else `fits: no`.

Exit status: 0 when the checkpoint fits the model (as is, or as a warm start
with the flags the verdict names) or no model is given, 1 when it does not,
2 on bad input.

Library use:

    listing = list_variables('/tmp/train')
    diff = diff_checkpoint('/tmp/train', 'se_resnet_v1_50', style='raw')
    diff.missing, diff.unused, diff.mismatched, diff.scope_guess
"""
import collections
import dataclasses
import sys
from typing import List, Optional, Tuple

from absl import app
from absl import flags

from nets import names
from nets import options as options_lib


def define_flags():
  flags.DEFINE_string('checkpoint_path', None,
                      'Checkpoint prefix or directory (its latest).')
  flags.DEFINE_string('model_name', None,
                      'Diff against this network (default: list only).')
  flags.DEFINE_enum('layer_style', names.DEFAULT_STYLE, list(names.STYLES),
                    'Layer style of the model.')
  flags.DEFINE_integer('num_classes', None,
                       'Logits of the model (default: from the checkpoint).')
  flags.DEFINE_integer('max_names', 50, 'Names shown per list.')
  options_lib.define_flags(flags.FLAGS)
  flags.mark_flag_as_required('checkpoint_path')


def _check_flags():
  if flags.FLAGS.model_name is not None:
    names.check_network(flags.FLAGS.model_name)
    options_lib.check(flags.FLAGS.model_name,
                      options_lib.from_flags(flags.FLAGS), prefix='--')


if __name__ == '__main__':
  # A bad flag is reported before TensorFlow loads (the imports below).
  from runtime import script_util  # pylint: disable=g-import-not-at-top
  script_util.check_flags_early(define_flags, _check_flags)

# pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np

from checkpointing import checkpoints
from nets import layers
from nets import nets_factory
from runtime.tf_compat import tf
# pylint: enable=g-import-not-at-top,wrong-import-position

# Non-slot training variables of Slim-era optimizers.
_OPTIMIZER_GLOBALS = ('global_step', 'beta1_power', 'beta2_power')


@dataclasses.dataclass(frozen=True)
class VariableInfo:
  name: str
  shape: Tuple[int, ...]
  dtype: str

  @property
  def size(self):
    return int(np.prod(self.shape, dtype=np.int64))


def list_variables(checkpoint_path):
  """The variables of a checkpoint (prefix or directory), sorted by name.

  Raises:
    CheckpointMismatchError: no checkpoint there.

  Example:
    for info in list_variables('/tmp/train'): print(info.name, info.shape)
  """
  checkpoint = checkpoints.resolve_checkpoint(checkpoint_path)
  reader = tf.train.load_checkpoint(checkpoint)
  shapes = reader.get_variable_to_shape_map()
  dtypes = reader.get_variable_to_dtype_map()
  return [VariableInfo(name, tuple(shapes[name]), dtypes[name].name)
          for name in sorted(shapes)]


def format_listing(infos):
  """Aligned lines: name, shape, dtype, size; then the totals, also for
  the weights alone (without the training state, see `is_training_state`)."""
  width = max([len(i.name) for i in infos] + [4])
  lines = ['%-*s  %-20s %-8s %12s' % (width, 'name', 'shape', 'dtype', 'size')]
  for info in infos:
    lines.append('%-*s  %-20s %-8s %12s' % (
        width, info.name, list(info.shape), info.dtype,
        '{:,}'.format(info.size)))
  names = {i.name for i in infos}
  weights = [i for i in infos if not is_training_state(i.name, names)]
  lines.append('%d variables, %s values; weights without training state: '
               '%d variables, %s values' % (
                   len(infos), '{:,}'.format(sum(i.size for i in infos)),
                   len(weights), '{:,}'.format(sum(i.size for i in weights))))
  return lines


def is_training_state(name, names):
  """True for the global step, optimizer variables and slots/averages
  (`<variable>/<slot>` where `<variable>` is itself in `names`)."""
  if name in _OPTIMIZER_GLOBALS:
    return True
  parent = name.rsplit('/', 1)[0]
  return '/' in name and parent in names


@dataclasses.dataclass(frozen=True)
class ScopeGuess:
  """Replacing `checkpoint_scope` by `model_scope` in checkpoint names makes
  `matches` model variables match."""
  checkpoint_scope: str
  model_scope: str
  matches: int


def _prefixes(name, max_drop=2):
  """(prefix, rest) splits with 0..max_drop leading components as prefix,
  keeping at least two components in `rest` (`conv1/weights`)."""
  parts = name.split('/')
  for drop in range(0, min(max_drop, len(parts) - 2) + 1):
    yield '/'.join(parts[:drop]), '/'.join(parts[drop:])


def guess_scope_mapping(checkpoint_names, model_names):
  """The prefix replacement that matches the most names, or None.

  Returns None when no replacement matches more names than the names as
  they are.

  Example:
    guess_scope_mapping(['resnet_v1_50/conv1/weights'],
                        ['se_resnet_v1_50/conv1/weights'])
    # ScopeGuess('resnet_v1_50', 'se_resnet_v1_50', 1)
  """
  by_rest = collections.defaultdict(set)
  for name in model_names:
    for prefix, rest in _prefixes(name):
      by_rest[rest].add(prefix)
  counts = collections.Counter()
  for name in checkpoint_names:
    for ckpt_prefix, rest in _prefixes(name):
      for model_prefix in by_rest.get(rest, ()):
        if model_prefix != ckpt_prefix:
          counts[(ckpt_prefix, model_prefix)] += 1
  if not counts:
    return None
  (ckpt_prefix, model_prefix), count = max(
      counts.items(), key=lambda item: (item[1], -len(item[0][0])))
  if count <= len(set(checkpoint_names) & set(model_names)):
    return None
  return ScopeGuess(ckpt_prefix, model_prefix, count)


def _rename(name, old_prefix, new_prefix):
  if not old_prefix:
    return '%s/%s' % (new_prefix, name) if new_prefix else name
  if name.startswith(old_prefix + '/'):
    rest = name[len(old_prefix) + 1:]
    return '%s/%s' % (new_prefix, rest) if new_prefix else rest
  return name


@dataclasses.dataclass
class CheckpointDiff:
  """A checkpoint compared with a model (Slim names).

  Attributes:
    matched: names present in both with the same shape.
    missing: model variables absent from the checkpoint.
    unused: checkpoint tensors the model does not use (not training state).
    mismatched: (name, checkpoint shape, model shape).
    training_state: global step, optimizer variables and slots, averages.
    scope_guess: a `ScopeGuess` when prefixes seem to differ, else None.
    mapped: the diff with `scope_guess` applied, or None.
    fresh: the part of `missing` a warm start leaves freshly initialised
      (the SE blocks when the checkpoint has none).
  """
  matched: List[str]
  missing: List[str]
  unused: List[str]
  mismatched: List[Tuple[str, list, list]]
  training_state: List[str]
  scope_guess: Optional[ScopeGuess] = None
  mapped: Optional['CheckpointDiff'] = None
  fresh: List[str] = dataclasses.field(default_factory=list)

  @property
  def fits(self):
    """Every model variable restores from the checkpoint."""
    return not (self.missing or self.mismatched)

  @property
  def fits_warm_start(self):
    """Every model variable but the `fresh` ones restores."""
    return not self.mismatched and set(self.missing) <= set(self.fresh)


def diff_shapes(checkpoint_shapes, model_shapes, guess_scopes=True,
                fresh_scopes=()):
  """Compares {name: shape} maps; see `CheckpointDiff`.

  `fresh_scopes` are sub-scopes (e.g. `SE_FRESH_SCOPES`) whose missing
  variables a warm start initialises fresh (`CheckpointDiff.fresh`).
  """
  names = set(checkpoint_shapes)
  state = sorted(n for n in names if is_training_state(n, names))
  weights = {n: checkpoint_shapes[n] for n in names - set(state)}
  matched, mismatched = [], []
  for name in sorted(set(weights) & set(model_shapes)):
    if list(weights[name]) == list(model_shapes[name]):
      matched.append(name)
    else:
      mismatched.append((name, list(weights[name]),
                         list(model_shapes[name])))
  diff = CheckpointDiff(
      matched=matched,
      missing=sorted(set(model_shapes) - set(weights)),
      unused=sorted(set(weights) - set(model_shapes)),
      mismatched=mismatched,
      training_state=state)
  diff.fresh = [n for n in diff.missing
                if any(scope in n for scope in fresh_scopes)]
  if guess_scopes and (diff.missing or diff.unused):
    guess = guess_scope_mapping(weights, model_shapes)
    if guess is not None:
      renamed = {_rename(n, guess.checkpoint_scope, guess.model_scope): s
                 for n, s in checkpoint_shapes.items()}
      diff.scope_guess = guess
      diff.mapped = diff_shapes(renamed, model_shapes, guess_scopes=False,
                                fresh_scopes=fresh_scopes)
  return diff


def infer_num_classes(checkpoint_shapes, model_name):
  """The logits width stored for `model_name` (or any model), or None."""
  candidates = sorted(n for n in checkpoint_shapes
                      if n.endswith('/logits/biases'))
  preferred = [n for n in candidates if n.startswith(model_name + '/')]
  for name in preferred + candidates:
    return int(checkpoint_shapes[name][-1])
  return None


def diff_checkpoint(checkpoint_path, model_name, num_classes=None,
                    style=layers.DEFAULT_STYLE, **model_options):
  """Diffs a checkpoint against a network of the factory.

  Args:
    checkpoint_path: checkpoint prefix or directory.
    model_name: a factory name.
    num_classes: logits of the model; None reads them from the checkpoint's
      `*/logits/biases` (1000 if it has none).
    style: layer style of the model (names are compared as Slim names).
    **model_options: factory options (SE options, depth_multiplier, ...).

  Returns:
    A `CheckpointDiff`.

  Example:
    diff = diff_checkpoint('/tmp/train', 'se_resnet_v1_14',
                           depth_multiplier=0.25)
  """
  checkpoint = checkpoints.resolve_checkpoint(checkpoint_path)
  shapes = tf.train.load_checkpoint(checkpoint).get_variable_to_shape_map()
  if num_classes is None:
    num_classes = infer_num_classes(shapes, model_name) or 1000
  model_shapes = nets_factory.variable_shapes(model_name, num_classes, style,
                                              **model_options)
  return diff_shapes(shapes, model_shapes,
                     fresh_scopes=warm_start_fresh_scopes(model_name, shapes))


def warm_start_fresh_scopes(model_name, checkpoint_names):
  """The scopes the trainer's warm start leaves fresh: the SE blocks of an
  SE network when the checkpoint has no SE variable (a plain ResNet)."""
  return checkpoints.se_fresh_scopes(nets_factory.is_se_network(model_name),
                                     checkpoint_names)


def verdict(diff, model_scope, checkpoint_path=None):
  """The `fits: ...` line and the exit code (0 fits, 1 does not).

  Judged as `train_image_classifier.py` judges a warm start: the scope
  mapping counts when `--checkpoint_model_scope` can express it (the guess
  maps onto `model_scope`), the SE blocks of `diff.fresh` start fresh, and
  logits of another width are trained anew (`--checkpoint_exclude_scopes`).

  Example:
    line, code = verdict(diff_checkpoint(path, 'se_resnet_v1_50'),
                         'se_resnet_v1_50', path)
  """
  prefix = ['--checkpoint_path=%s' % checkpoint_path] if checkpoint_path else []
  candidates = [(diff, [])]
  guess = diff.scope_guess
  trainer_can_map = (guess is not None and guess.checkpoint_scope and
                     guess.model_scope == model_scope and
                     '/' not in guess.checkpoint_scope)
  if trainer_can_map:
    candidates.append((diff.mapped, ['--checkpoint_model_scope=%s' %
                                     guess.checkpoint_scope]))

  if diff.fits:
    return 'fits: yes', 0
  for candidate, flag_list in candidates:
    logits = model_scope + '/logits'
    new_logits = bool(candidate.mismatched) and all(
        name.startswith(logits + '/') for name, _, _ in candidate.mismatched)
    if (candidate.mismatched and not new_logits) or not set(
        candidate.missing) <= set(candidate.fresh):
      continue
    parts = []
    if flag_list:
      parts.append('with the scope mapping')
    if candidate.missing:
      parts.append('as a warm start, the %d SE variables initialised fresh '
                   '(as the trainer does)' % len(candidate.fresh))
    if new_logits:
      parts.append('with new logits (the checkpoint has %d classes)' %
                   candidate.mismatched[0][1][-1])
      flag_list = flag_list + ['--checkpoint_exclude_scopes=' + logits]
    return 'fits: %s; train_image_classifier.py flags: %s' % (
        ', '.join(parts), ' '.join(prefix + flag_list)), 0
  if guess is not None and not trainer_can_map and (
      diff.mapped.fits or diff.mapped.fits_warm_start):
    return ('fits: no (only under the guessed mapping %r -> %r, which '
            '--checkpoint_model_scope cannot express; restore from Python '
            'with checkpoint_model_scope=%r, model_scope=%r)' % (
                guess.checkpoint_scope, guess.model_scope,
                guess.checkpoint_scope, guess.model_scope)), 1
  return 'fits: no', 1


def _names(items, limit):
  shown = list(items[:limit])
  if len(items) > limit:
    shown.append('... (+%d more)' % (len(items) - limit))
  return shown


def format_diff(diff, limit=50):
  """Readable lines for a `CheckpointDiff`."""
  lines = ['matched: %d variables' % len(diff.matched)]
  for title, items in (('missing from the checkpoint', diff.missing),
                       ('unused in the checkpoint', diff.unused)):
    lines.append('%s: %d' % (title, len(items)))
    lines.extend('  ' + n for n in _names(items, limit))
  lines.append('shape mismatch: %d' % len(diff.mismatched))
  for name, ckpt_shape, model_shape in diff.mismatched[:limit]:
    lines.append('  %s: checkpoint %s, model %s' % (name, ckpt_shape,
                                                    model_shape))
  lines.append('training state (ignored): %d (%s)' % (
      len(diff.training_state),
      ', '.join(_names(diff.training_state, 3)) or 'none'))
  if diff.scope_guess:
    guess = diff.scope_guess
    lines.append(
        'scope guess: checkpoint scope %r -> model scope %r matches %d '
        'variables (restore with checkpoint_model_scope=%r, model_scope=%r);'
        ' under that mapping:' % (guess.checkpoint_scope, guess.model_scope,
                                  guess.matches, guess.checkpoint_scope,
                                  guess.model_scope))
    lines.extend('  ' + line for line in format_diff(diff.mapped, limit))
  return lines


FLAGS = flags.FLAGS
def run(argv):
  """The command: prints the listing or the diff; returns the exit code."""
  del argv
  try:
    infos = list_variables(FLAGS.checkpoint_path)
    print('checkpoint: %s' % checkpoints.resolve_checkpoint(
        FLAGS.checkpoint_path))
    if not FLAGS.model_name:
      print('\n'.join(format_listing(infos)))
      return 0
    diff = diff_checkpoint(FLAGS.checkpoint_path, FLAGS.model_name,
                           num_classes=FLAGS.num_classes,
                           style=FLAGS.layer_style, **options_lib.from_flags(FLAGS))
  except (ValueError, TypeError, tf.errors.OpError) as e:
    message = e.message if isinstance(e, tf.errors.OpError) else str(e)
    print('error: %s' % ' '.join(message.split()), file=sys.stderr)
    return 2
  print('model: %s (style %s)' % (FLAGS.model_name, FLAGS.layer_style))
  print('\n'.join(format_diff(diff, FLAGS.max_names)))
  line, code = verdict(diff, FLAGS.model_name, FLAGS.checkpoint_path)
  print(line)
  return code


if __name__ == '__main__':
  app.run(run, flags_parser=script_util.parse_flags)
