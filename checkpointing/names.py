"""Checkpoint names: the one Keras/Slim rule, scopes, and the step in a name.

Every layer style stores its variables under Slim's names, so that one
checkpoint serves the slim, raw and keras styles and Slim itself. The keras
style differs in two words only: a layer's `kernel` is Slim's `weights` and
its `bias` is Slim's `biases`; batch norm (`<conv>/BatchNorm/{gamma, beta,
moving_mean, moving_variance}`) is named alike in both. The words are mapped
wherever they stand as a whole path component, so the training state below a
variable follows it: `conv1/kernel/Momentum` (an optimizer slot) is stored as
`conv1/weights/Momentum` and `fc1/bias/ExponentialMovingAverage` as
`fc1/biases/ExponentialMovingAverage`, as a slim-style run stores them. No
Slim name has a `kernel` or `bias` component, so Slim names pass unchanged,
and `slim_to_keras_name` undoes the rule exactly.

    keras_to_slim_name('net/block1/unit_1/bottleneck_v1/se/fc1/kernel')
    # 'net/block1/unit_1/bottleneck_v1/se/fc1/weights'
    slim_to_keras_name('net/logits/biases')       # 'net/logits/bias'
    checkpoint_step('/tmp/train/model.ckpt-120')  # 120

Nothing here needs TensorFlow: variables are read through their `name`.
"""
import fnmatch
import re

KERAS_TO_SLIM = {'kernel': 'weights', 'bias': 'biases'}
SLIM_TO_KERAS = {slim: keras for keras, slim in KERAS_TO_SLIM.items()}

_STEP_SUFFIX = re.compile(r'-(\d+)$')


def _map_components(name, words):
  return '/'.join(words.get(part, part) for part in name.split('/'))


def keras_to_slim_name(name):
  """The Slim name of a variable name of any style (see the module doc).

  'a/conv1/kernel' -> 'a/conv1/weights'; 'a/fc/bias:0' -> 'a/fc/biases';
  'a/fc/kernel/Momentum' -> 'a/fc/weights/Momentum'; Slim names unchanged.
  """
  return _map_components(name.split(':')[0], KERAS_TO_SLIM)


def slim_to_keras_name(name):
  """The keras-style name of a Slim name: the inverse of `keras_to_slim_name`.

  'a/conv1/weights' -> 'a/conv1/kernel'; 'a/fc1/biases' -> 'a/fc1/bias';
  batch-norm names unchanged.
  """
  return _map_components(name, SLIM_TO_KERAS)


def variable_name(variable):
  """'a/b/weights' for graph and eager variables alike (no ':0')."""
  return variable.name.split(':')[0]


def slim_name(variable):
  """The Slim checkpoint name of a variable of any style (graph or eager),
  slots and moving averages included."""
  return keras_to_slim_name(variable_name(variable))


def slim_named_variables(variables):
  """{slim name: variable}, e.g. for a `Saver` that writes Slim names.

  Raises:
    ValueError: if two variables map to the same name.

  Example:
    saver = v1.train.Saver(slim_named_variables(v1.global_variables()))
  """
  named = {}
  for variable in variables:
    name = slim_name(variable)
    if name in named:
      raise ValueError('variables %s and %s both map to checkpoint name %s' %
                       (variable_name(named[name]), variable_name(variable),
                        name))
    named[name] = variable
  return named


def checkpoint_step(checkpoint_path):
  """The global step in a checkpoint's file name ('model.ckpt-120' -> 120),
  or None."""
  match = _STEP_SUFFIX.search(checkpoint_path or '')
  return int(match.group(1)) if match else None


def in_scope(name, scope):
  """Whether variable (op) name `name` is `scope` or lies below it.

  A scope matches on '/' boundaries: `net/logits` matches
  `net/logits/weights` but not `net/logits_aux/weights`. A scope with `*` is
  a glob over the whole name, where `*` also crosses '/': `net/*/se` matches
  every squeeze-and-excitation block of `net`.
  """
  name = name.split(':')[0]
  scope = scope.rstrip('/')
  if '*' in scope or '?' in scope:
    return fnmatch.fnmatchcase(name, scope) or fnmatch.fnmatchcase(
        name, scope + '/*')
  return name == scope or name.startswith(scope + '/')


def in_scopes(name, scopes):
  """Whether `name` lies in any of `scopes` (see `in_scope`)."""
  return any(in_scope(name, s) for s in scopes)


def top_scopes(names):
  """Sorted top-level scopes of `names`, ignoring unscoped ones like
  global_step."""
  return sorted({n.split('/')[0] for n in names if '/' in n})


def map_scope(name, from_scope, to_scope):
  """`name` with its leading scope `from_scope` replaced by `to_scope`.

  Names outside `from_scope`, or either scope None, are left as they are.

  Example:
    map_scope('se_resnet_v1_50/conv1/weights', 'se_resnet_v1_50',
              'resnet_v1_50')   # 'resnet_v1_50/conv1/weights'
  """
  if from_scope is None or to_scope is None:
    return name
  if name == from_scope or name.startswith(from_scope + '/'):
    return to_scope + name[len(from_scope):]
  return name
