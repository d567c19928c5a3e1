"""The model options, one row each: every script, config and builder reads
this table.

A model option is a keyword of the network builders (`se_ratio`,
`depth_multiplier`, `topology`, ...) or of their arg scope
(`batch_norm_decay`, ...) that the command lines expose as a flag of the same
name. Each `Option` row gives its name, flag kind, the builder's default, the
help text, which networks take it, a check of its value and how a flag's value
becomes the builder's. From the table come the flags of every script
(`define_flags`), the keywords a network gets (`from_flags`, `from_values`),
the checks of `ModelConfig`, `TrainConfig` and the factory (`check`,
`check_applies`), the option fields of `TrainConfig` (`OptionFields`) and
the builders' list of SE keywords (`SE_NAMES`). Adding an option is one new
row here (and the keyword in the builder or arg scope that implements it).

No TensorFlow here: the scripts parse and check their flags before it loads.

    from nets import options
    options.define_flags(flags.FLAGS)             # --se_ratio, --topology, ...
    options.from_flags(flags.FLAGS)                # {'se_ratio': 8} if given
    options.check('resnet_v1_50', {'se_ratio': 8}) # ValueError: resnet_v1_50
                                                   # has no squeeze-and-...
"""
import dataclasses
from typing import Any, Callable, Optional, Tuple

from absl import flags

from nets import names
from nets import topology as topology_lib

# Which networks take an option: a test of the network name.
NETWORKS = {
    'all': lambda name: True,
    'resnet': names.has_topology,  # The ResNet family (resnet, resnext).
    'se': names.is_se_network,
}
TARGETS = ('builder', 'arg_scope')
FLAG_KINDS = {'float': float, 'integer': int, 'bool': bool, 'enum': str,
              'list': tuple}


@dataclasses.dataclass(frozen=True)
class Option:
  """One model option (data; the functions below read it).

  Attributes:
    name: the builder (or arg scope) keyword, and the flag's name.
    kind: the absl flag kind, a key of `FLAG_KINDS`.
    default: what the builder (or arg scope) uses when the option is not
      given; an unset flag passes nothing, so this applies.
    help: the flag's help text.
    networks: which networks take it, a key of `NETWORKS`.
    target: 'builder' (a keyword of the network function) or 'arg_scope'.
    choices: the valid values of an 'enum'.
    check: `problem(value)`: None if `value` is good, else what is wrong
      with it ("must be > 0, got 0").
    parse: the builder's value from the flag's (e.g. '3' -> 3); also takes
      the builder's value unchanged.
  """
  name: str
  kind: str
  default: Any
  help: str
  networks: str = 'all'
  target: str = 'builder'
  choices: Tuple[str, ...] = ()
  check: Optional[Callable[[Any], Optional[str]]] = None
  parse: Optional[Callable[[Any], Any]] = None


def _positive(value):
  if not value > 0:
    return 'must be > 0, got %r' % (value,)
  return None


def _between_0_and_1(value):
  if not 0 < value < 1:
    return 'must be in (0, 1), got %r' % (value,)
  return None


def _ratio(value):
  if isinstance(value, bool) or not _is_integer(value) or value < 1:
    return 'must be an integer >= 1, got %r' % (value,)
  return None


def _is_integer(value):
  try:
    return int(value) == value
  except (TypeError, ValueError):
    return False


def _one_of(what, plural, valid):
  def problem(value):
    if value not in valid:
      return 'unknown %s %r; valid %s: %s' % (what, value, plural,
                                              ', '.join(valid))
    return None
  return problem


def _topology(value):
  if isinstance(value, topology_lib.Topology):  # The builders take one too.
    return None
  return _one_of('topology', 'topologies', topology_lib.NAMES)(value)


BLOCK_NAMES = ('block1', 'block2', 'block3', 'block4')


def parse_se_blocks(value):
  """Block numbers or names: '3,block4', ['3', 'block4'] -> [3, 'block4'].

  None stays None (every block); '' and [] are no block.
  """
  if value is None:
    return None
  if isinstance(value, str):
    value = [v for v in value.split(',') if v.strip()]
  return [int(b) if str(b).strip().isdigit() else str(b).strip()
          for b in value]


def se_block_names(value):
  """The blocks' scope names: '3,block4' or [3, 'block4'] -> ['block3',
  'block4']; None (every block) stays None."""
  parsed = parse_se_blocks(value)
  if parsed is None:
    return None
  return [b if isinstance(b, str) else 'block%d' % b for b in parsed]


def _se_blocks(value):
  bad = [b for b, name in zip(parse_se_blocks(value), se_block_names(value))
         if name not in BLOCK_NAMES]
  if bad:
    return 'unknown blocks %s; valid blocks: 1-4 or %s' % (
        bad, ', '.join(BLOCK_NAMES))
  return None


OPTIONS = (
    Option('depth_multiplier', 'float', 1.0,
           'Scales the ResNet bottleneck widths (builder default 1.0).',
           networks='resnet', check=_positive),
    Option('se_ratio', 'integer', 16,
           'SE reduction ratio r (builder default 16).',
           networks='se', check=_ratio),
    Option('se_use_biases', 'bool', True,
           'Biases in the SE fully connected layers (builder default True).',
           networks='se'),
    Option('se_placement', 'enum', 'standard',
           'SE placement (builder default standard).', networks='se',
           choices=names.SE_PLACEMENTS,
           check=_one_of('placement', 'placements', names.SE_PLACEMENTS)),
    Option('se_fc2_bias_init', 'float', 0.0,
           'Initial bias of the SE fc2 layer (builder default 0.0).',
           networks='se'),
    Option('se_blocks', 'list', None,
           'Blocks with SE, e.g. 3,4 or block3,block4 (builder default: '
           'all).', networks='se', check=_se_blocks, parse=parse_se_blocks),
    Option('batch_norm_decay', 'float', 0.997,
           'Batch norm moving-average decay (arg scope default 0.997).',
           target='arg_scope', check=_between_0_and_1),
    Option('batch_norm_epsilon', 'float', 1e-5,
           'Batch norm epsilon (arg scope default 1e-5).',
           target='arg_scope', check=_positive),
    Option('topology', 'enum', None,
           'Where the ResNet strides and how its stem pools: %s (default: '
           'the model\'s; slim for resnet_v1_*/se_resnet_v1_*, torch for '
           'resnext_*/se_resnext_*).' % ', '.join(topology_lib.NAMES),
           networks='resnet', choices=topology_lib.NAMES,
           check=_topology),
)

BY_NAME = {option.name: option for option in OPTIONS}
NAMES = tuple(BY_NAME)
# The keywords of the se_* builders (`nets.resnet_v1.se_spec`).
SE_NAMES = tuple(o.name for o in OPTIONS if o.networks == 'se')
ARG_SCOPE_NAMES = tuple(o.name for o in OPTIONS if o.target == 'arg_scope')

# One field per option, None (unset) by default: `TrainConfig` inherits them.
OptionFields = dataclasses.make_dataclass(
    'OptionFields',
    [(o.name, Optional[FLAG_KINDS[o.kind]], dataclasses.field(default=None))
     for o in OPTIONS])
OptionFields.__doc__ = ('The model options as dataclass fields (None: the '
                        "builder's default), one per row of `OPTIONS`.")


def get(name):
  """The `Option` called `name`; ValueError naming the valid ones."""
  if name not in BY_NAME:
    raise ValueError('Unknown model option %r; valid options: %s' %
                     (name, ', '.join(NAMES)))
  return BY_NAME[name]


def define_flags(flag_values=flags.FLAGS, only=None, defaults=None,
                 help_notes=None):
  """Defines one absl flag per option, each unset (None) by default.

  Args:
    flag_values: the `FlagValues` to define them on.
    only: the option names to define (default: all).
    defaults: {name: flag default} where a script keeps another default.
    help_notes: {name: text} appended to an option's help for this script.

  Example:
    options.define_flags(flags.FLAGS, only=('depth_multiplier', 'topology'))
  """
  defaults = defaults or {}
  help_notes = help_notes or {}
  for option in OPTIONS:
    if only is not None and option.name not in only:
      continue
    default = defaults.get(option.name)
    help_text = ' '.join(filter(None, [option.help,
                                       help_notes.get(option.name)]))
    if option.kind == 'enum':
      flags.DEFINE_enum(option.name, default, list(option.choices),
                        help_text, flag_values=flag_values)
    else:
      define = getattr(flags, 'DEFINE_' + option.kind)
      define(option.name, default, help_text, flag_values=flag_values)


def from_values(values):
  """The given options as builder keywords: None dropped, flag values
  parsed (`se_blocks` '3' -> 3); names outside the table pass unchanged.

  Example:
    options.from_values({'se_blocks': ['3', 'block4'], 'se_ratio': None})
    # {'se_blocks': [3, 'block4']}
  """
  result = {}
  for name, value in values.items():
    if value is None:
      continue
    option = BY_NAME.get(name)
    result[name] = option.parse(value) if option and option.parse else value
  return result


def from_flags(flag_values, only=None):
  """The options set on the command line, as builder keywords.

  Args:
    flag_values: parsed flags of `define_flags`.
    only: the names `define_flags` was given (default: all).
  """
  return from_values({name: flag_values[name].value
                      for name in (NAMES if only is None else only)})


def check_applies(model_name, given, prefix=''):
  """Raises ValueError if `model_name` does not take an option in `given`.

  Args:
    model_name: a network name.
    given: option names (others are ignored).
    prefix: put before each name in the message, e.g. '--' for flags.
  """
  given = [name for name in NAMES if name in given]
  se = [n for n in given if BY_NAME[n].networks == 'se'
        and not NETWORKS['se'](model_name)]
  if se:
    if 'se_' + model_name in names.NETWORK_NAMES:
      hint = 'use se_%s' % model_name
    else:
      hint = 'there is no se_%s; the SE networks are %s' % (
          model_name, ', '.join(n for n in names.NETWORK_NAMES
                                if names.is_se_network(n)))
    raise ValueError('%s: %s has no squeeze-and-excitation blocks; %s' % (
        ', '.join(prefix + n for n in se), model_name, hint))
  for name in given:
    if not NETWORKS[BY_NAME[name].networks](model_name):
      raise ValueError('%s%s: %s has no %s (the ResNets have one)' % (
          prefix, name, model_name, name.replace('_', ' ')))


def check(model_name, values, prefix=''):
  """Raises ValueError (one line, naming the option) for an option that
  `model_name` does not take or a bad value; None values and names outside
  the table are not checked.

  Example:
    options.check('se_resnet_v1_50', {'se_ratio': 0}, prefix='--')
    # ValueError: --se_ratio: must be an integer >= 1, got 0
  """
  given = {k: v for k, v in values.items() if k in BY_NAME and v is not None}
  check_applies(model_name, given, prefix)
  for name, value in given.items():
    problem = BY_NAME[name].check and BY_NAME[name].check(value)
    if problem:
      raise ValueError('%s%s: %s' % (prefix, name, problem))
