"""Warm starts and restores on top of a plan (`checkpointing.restore_plan`).

`warm_start_fn` plans and returns the function that restores; the SE-ResNet
helpers add what warm-starting a squeeze-and-excitation network from a plain
ResNet checkpoint needs: the scope map (`resnet_v1_50` -> `se_resnet_v1_50`)
and the SE blocks left fresh.

Example (warm-start SE-ResNet-50 from Slim's ResNet-50, new logits):

    init_fn, report = warm_start.warm_start_fn(
        'resnet_v1_50.ckpt', v1.global_variables(),
        checkpoint_model_scope='resnet_v1_50', model_scope='se_resnet_v1_50',
        exclude_scopes=['se_resnet_v1_50/logits'])
    print(report.summary())
    init_fn(session)      # after the global initializer
"""
from checkpointing import errors
from checkpointing import files
from checkpointing import names as names_lib
from checkpointing import restore_plan
from checkpointing.errors import CheckpointMismatchError
from runtime.tf_compat import tf, v1


def warm_start_fn(checkpoint_path, variables, **plan_kwargs):
  """Plans a restore and returns `(init_fn(session), RestoreReport)`.

  `init_fn` restores the matched variables; run it after the initializer
  (or pass it as `Scaffold(init_fn=lambda scaffold, sess: init_fn(sess))`).
  Keyword arguments are those of `restore_plan.plan_restore`.
  """
  var_map, report = restore_plan.plan_restore(checkpoint_path, variables,
                                              **plan_kwargs)
  saver = v1.train.Saver(var_map, reshape=False) if var_map else None

  def init_fn(session):
    if saver is not None:
      try:
        saver.restore(session, report.checkpoint)
      except tf.errors.DataLossError as e:
        raise errors.NotACheckpointError(
            report.checkpoint, errors.op_error_detail(e)) from None

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


def se_fresh_scopes(se_network, checkpoint_names):
  """The scopes a warm start leaves fresh: `SE_FRESH_SCOPES` when an SE
  network meets a checkpoint without SE variables (a plain ResNet), else ().

  Example:
    fresh = se_fresh_scopes(True, reader.get_variable_to_shape_map())
  """
  if not se_network or any(scope in name for name in checkpoint_names
                           for scope in SE_FRESH_SCOPES):
    return ()
  return SE_FRESH_SCOPES


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
  names = [names_lib.variable_name(v) for v in variables]
  if model_scope is None:
    tops = names_lib.top_scopes(n for n in names
                                if any(s in n for s in SE_FRESH_SCOPES))
    if len(tops) != 1:
      raise CheckpointMismatchError(
          'Cannot tell the SE network\'s scope: %s; pass model_scope (the '
          'model\'s top-level scopes are: %s)' % (
              'no variable is in an SE block' if not tops else
              'SE blocks under %s' % ', '.join(tops),
              ', '.join(names_lib.top_scopes(names))))
    model_scope = tops[0]
  if checkpoint_model_scope is None:
    checkpoint = files.resolve_checkpoint(checkpoint_path)
    checkpoint_names = list(
        files.load_reader(checkpoint).get_variable_to_shape_map())
    plain = model_scope[len('se_'):] if model_scope.startswith('se_') else None
    checkpoint_tops = names_lib.top_scopes(checkpoint_names)
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
