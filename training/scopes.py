"""Scope matching, the variables to train, and checkpoint names.

A scope names a variable-scope prefix on '/' boundaries: `net/logits` matches
`net/logits/weights` but not `net/logits_aux/weights`. A scope with `*` is a
glob over the whole name, where `*` also crosses '/': `net/*/se` matches every
squeeze-and-excitation block of `net` (`net/block1/unit_1/bottleneck_v1/se/
fc1/weights`, ...).

    scopes.split_scopes('net/logits, net/*/se')   # ('net/logits', 'net/*/se')
    scopes.filter_variables(v1.trainable_variables(), ['net/logits'])
"""
import fnmatch

from checkpointing import checkpoints
from runtime.tf_compat import v1
from training import config
from training import errors

# Keras names a weight `kernel` or `bias`; Slim checkpoints say `weights` or
# `biases`, also inside optimizer slots (`.../kernel/Momentum`) and moving
# averages, so the mapping is per path component.
_KERAS_COMPONENTS = {'kernel': 'weights', 'bias': 'biases'}


# TensorFlow-free, in config (flags are parsed before TF loads).
split_scopes = config.split_scopes


def matches_scope(name, scope):
  """Whether variable (op) name `name` lies in `scope` (see module doc)."""
  name = name.split(':')[0]
  if '*' in scope or '?' in scope:
    return fnmatch.fnmatchcase(name, scope) or fnmatch.fnmatchcase(
        name, scope + '/*')
  return name == scope or name.startswith(scope + '/')


def in_any_scope(name, scopes):
  return any(matches_scope(name, s) for s in scopes)


def filter_variables(variables, scopes):
  """The variables of `variables` that lie in any of `scopes`, in order."""
  return [v for v in variables if in_any_scope(v.op.name, scopes)]


def existing_scopes(variables, depth=2, limit=12):
  """A short sorted list of the scopes (first `depth` levels) that exist."""
  found = sorted({'/'.join(v.op.name.split('/')[:depth]) for v in variables})
  shown = ', '.join(found[:limit])
  return shown + (', ...' if len(found) > limit else '')


def variables_to_train(scopes, flag_name='--trainable_scopes'):
  """Trainable variables in `scopes` (all trainable ones if `scopes` is empty).

  Raises:
    ConfigError: a scope matches no trainable variable; the message lists the
      scopes that exist.

  Example:
    var_list = variables_to_train(['se_resnet_v1_50/logits'])
  """
  trainable = v1.trainable_variables()
  if not scopes:
    return trainable
  for scope in scopes:
    if not filter_variables(trainable, [scope]):
      raise errors.ConfigError(
          '%s: scope %r matches no trainable variable; scopes that exist: %s'
          % (flag_name, scope, existing_scopes(trainable)))
  return filter_variables(trainable, scopes)


def _op_name(op_or_tensor):
  return getattr(op_or_tensor, 'op', op_or_tensor).name


def update_ops_in_scopes(update_ops, scopes):
  """The update ops (e.g. batch norm statistics) created under `scopes`."""
  if not scopes:
    return list(update_ops)
  return [u for u in update_ops if in_any_scope(_op_name(u), scopes)]


def checkpoint_name(variable):
  """The Slim checkpoint name of any graph variable, slots included.

  'net/conv1/kernel' -> 'net/conv1/weights';
  'net/fc/bias/Momentum' -> 'net/fc/biases/Momentum'; Slim names unchanged.
  """
  parts = variable.op.name.split('/')
  return '/'.join(_KERAS_COMPONENTS.get(p, p) for p in parts)


def checkpoint_var_list(variables):
  """{checkpoint name: variable} for a `Saver` that writes Slim names.

  Raises:
    ValueError: if two variables map to the same name.
  """
  var_list = {}
  for variable in variables:
    name = checkpoint_name(variable)
    if name in var_list:
      raise ValueError('variables %s and %s both map to checkpoint name %s' %
                       (var_list[name].op.name, variable.op.name, name))
    var_list[name] = variable
  return var_list


# The global step in a checkpoint's file name ('model.ckpt-120' -> 120).
checkpoint_step = checkpoints.checkpoint_step


def checkpoint_problems(checkpoint, var_list, max_names=8):
  """Why `var_list` ({name: variable}) cannot be restored from `checkpoint`.

  Resource variables would silently take a wrong-shaped value
  on current TensorFlow, so names and shapes are compared before restoring.

  Returns:
    A list of readable problems (empty when everything fits).
  """
  shapes = checkpoints.load_reader(checkpoint).get_variable_to_shape_map()
  missing = sorted(n for n in var_list if n not in shapes)
  mismatched = sorted(
      '%s (checkpoint %s, model %s)' % (n, shapes[n], v.shape.as_list())
      for n, v in var_list.items()
      if n in shapes and shapes[n] != v.shape.as_list())
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
