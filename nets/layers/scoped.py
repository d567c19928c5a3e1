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
