"""The keyword arguments an arg-scoped layer function would receive here.

A layer that a style writes itself in place of an arg-scoped function (a
conv with batch norm folded in, a grouped conv, a 1x1 conv computed as a
matmul) must honour what the enclosing `slim.arg_scope` sets for that
function, as the function itself would. `arguments()` gives those values
through tf-slim's public arg_scope API: `slim.current_arg_scope()` (the
current {function key: {argument: value}} dict) and
`slim.arg_scope_func_key()` (a function's key in it).

Example:

    params = scoped.arguments(slim.conv2d, activation_fn=None)
    params['weights_regularizer'], params['outputs_collections']
"""
import inspect

from runtime.tf_compat import slim


def arguments(function, **explicit):
  """`function`'s keyword arguments as a call with `explicit` would get them.

  Args:
    function: a function decorated with `slim.add_arg_scope`.
    **explicit: the call's own keyword arguments; they win over the scope.

  Returns:
    {name: value} for every keyword parameter of `function` that has a
    default: its default, overridden by the current arg_scope, overridden by
    `explicit`.
  """
  values = defaults(function)
  values.update(slim.current_arg_scope().get(
      slim.arg_scope_func_key(function), {}))
  values.update(explicit)
  return values


def defaults(function):
  """{name: default} of `function`'s keyword parameters."""
  return {
      name: parameter.default
      for name, parameter in inspect.signature(function).parameters.items()
      if parameter.default is not inspect.Parameter.empty}


def is_default(value, default):
  """Whether an argument's `value` is its (plain or identical) `default`."""
  if value is default:
    return True
  plain = (bool, int, float, str)
  return (isinstance(value, plain) and isinstance(default, plain) and
          value == default)


def style_arg_scope(conv2d, fully_connected, batch_norm, weight_decay,
                    batch_norm_decay, batch_norm_epsilon, batch_norm_scale,
                    activation_fn, use_batch_norm):
  """The arg scope of a style whose layer functions take the same keywords.

  The raw and keras styles name their hyper-parameters alike (`weight_decay`
  on conv and fully connected layers, Slim's names on conv and batch norm),
  so one function sets them on either style's functions.

  Returns:
    The scope, to be entered with `slim.arg_scope(scope)`.
  """
  with slim.arg_scope([conv2d, fully_connected], weight_decay=weight_decay):
    with slim.arg_scope([conv2d], activation_fn=activation_fn,
                        normalizer_fn=batch_norm if use_batch_norm else None):
      with slim.arg_scope([batch_norm], decay=batch_norm_decay,
                          epsilon=batch_norm_epsilon,
                          scale=batch_norm_scale) as scope:
        return scope
