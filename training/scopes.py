"""Scope matching and the variables to train.

A scope names a variable-scope prefix on '/' boundaries: `net/logits` matches
`net/logits/weights` but not `net/logits_aux/weights`. A scope with `*` is a
glob over the whole name, where `*` also crosses '/': `net/*/se` matches every
squeeze-and-excitation block of `net` (`net/block1/unit_1/bottleneck_v1/se/
fc1/weights`, ...). The matcher is `checkpointing.names.in_scope`, so
`--checkpoint_exclude_scopes` takes the same scopes as `--trainable_scopes`.

    scopes.split_scopes('net/logits, net/*/se')   # ('net/logits', 'net/*/se')
    scopes.filter_variables(v1.trainable_variables(), ['net/logits'])
"""
from checkpointing import names
from runtime.tf_compat import v1
from training import config
from training import errors

# TensorFlow-free, in config (flags are parsed before TF loads).
split_scopes = config.split_scopes

matches_scope = names.in_scope
in_any_scope = names.in_scopes


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
