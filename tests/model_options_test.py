"""The model options table (`nets.options`) is what every consumer reads:
the scripts' flags, `ModelConfig`, `TrainConfig`, the factory and the
builders; adding an option is one new row."""
import dataclasses
import inspect
import os
import subprocess
import sys

import pytest
from absl import flags

from modeling import model_config
from modeling import model_flags
from nets import nets_factory
from nets import options
from nets import resnet_utils
from nets import resnet_v1
from training import config as config_lib
from training import errors
from training import flags as training_flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _train_flags():
  flag_values = flags.FlagValues()
  training_flags.define_flags(flag_values)
  return flag_values


def _model_flags():
  """The flags eval_image_classifier.py and export_inference_graph.py take."""
  flag_values = flags.FlagValues()
  model_flags.define_model_flags(flag_values=flag_values)
  return flag_values


def test_every_option_is_a_flag_with_the_tables_help():
  for flag_values in (_train_flags(), _model_flags()):
    for option in options.OPTIONS:
      flag = flag_values[option.name]
      assert flag.help.endswith(option.help), option.name  # enum: <a|b>: help
      assert flag.default is None, option.name  # Unset: the builder's.
      if option.kind == 'enum':
        assert tuple(flag.parser.enum_values) == option.choices


def test_flag_strings_become_builder_keywords():
  flag_values = _train_flags()
  flag_values(['train', '--model_name=se_resnet_v1_14', '--se_ratio=8',
               '--se_blocks=3,block4', '--se_use_biases=false',
               '--topology=torch', '--depth_multiplier=0.25',
               '--batch_norm_decay=0.9'])
  expected = {'se_ratio': 8, 'se_blocks': [3, 'block4'],
              'se_use_biases': False, 'topology': 'torch',
              'depth_multiplier': 0.25, 'batch_norm_decay': 0.9}
  assert options.from_flags(flag_values) == expected
  config = training_flags.config_from_flags(flag_values)
  assert config.model_options() == expected
  assert config.model_config().model_options == expected
  eval_flags = _model_flags()
  eval_flags(['eval', '--model_name=se_resnet_v1_14', '--se_blocks=3,block4'])
  assert model_flags.model_config_from_flags(eval_flags).model_options == {
      'se_blocks': [3, 'block4']}


def test_train_config_has_one_field_per_option():
  fields = {f.name for f in dataclasses.fields(config_lib.TrainConfig)}
  assert set(options.NAMES) <= fields
  config = config_lib.TrainConfig()
  assert all(getattr(config, name) is None for name in options.NAMES)


@pytest.mark.parametrize('model_name, values, message', [
    ('resnet_v1_14', {'se_ratio': 8, 'se_blocks': ['3']},
     'se_ratio, se_blocks: resnet_v1_14 has no squeeze-and-excitation '
     'blocks; use se_resnet_v1_14'),
    ('simple_cnn', {'depth_multiplier': 0.5},
     'depth_multiplier: simple_cnn has no depth multiplier'),
    ('se_resnet_v1_14', {'se_ratio': 0},
     'se_ratio: must be an integer >= 1, got 0'),
    ('se_resnet_v1_14', {'se_blocks': ['5']},
     'se_blocks: unknown blocks [5]; valid blocks: 1-4 or block1'),
    ('se_resnet_v1_14', {'se_placement': 'middle'},
     "se_placement: unknown placement 'middle'; valid placements: standard"),
    ('resnet_v1_14', {'depth_multiplier': 0.0},
     'depth_multiplier: must be > 0, got 0.0'),
    ('resnet_v1_14', {'batch_norm_epsilon': -1.0},
     'batch_norm_epsilon: must be > 0, got -1.0'),
    ('resnet_v1_14', {'topology': 'pytorch'},
     "topology: unknown topology 'pytorch'; valid topologies: slim, caffe"),
])
def test_model_config_and_train_config_check_with_the_table(
    model_name, values, message):
  with pytest.raises(ValueError) as info:
    model_config.ModelConfig(model_name, model_options=values)
  assert message in str(info.value)
  config = config_lib.TrainConfig(dataset_name='digits', dataset_dir='/d',
                                  model_name=model_name, **values)
  with pytest.raises(errors.ConfigError) as info:
    config.validate()
  assert '--' + message.replace(', se_', ', --se_') in str(info.value)


def test_model_config_keeps_other_factory_keywords():
  config = model_config.ModelConfig(
      'se_resnet_v1_14', model_options={'se_ratio': None, 'output_stride': 8,
                                        'se_blocks': '3,4'})
  assert config.model_options == {'output_stride': 8, 'se_blocks': [3, 4]}


def test_table_defaults_are_the_builders():
  def defaults(fn):
    return {name: p.default
            for name, p in inspect.signature(fn).parameters.items()}
  builder = defaults(resnet_v1.se_resnet_v1_50)
  scope = defaults(resnet_utils.resnet_arg_scope)
  se = defaults(resnet_v1.se_spec)
  for option in options.OPTIONS:
    if option.name == 'topology':  # Each network's own (None: that one).
      assert option.default is None
      assert builder['topology'] == resnet_v1.se_resnet_v1_50.default_topology
    elif option.target == 'arg_scope':
      assert scope[option.name] == option.default, option.name
    elif option.networks == 'se':
      assert se[option.name] == option.default, option.name
    else:
      assert builder[option.name] == option.default, option.name
  assert set(options.SE_NAMES) == set(se)


def test_factory_lists_the_valid_options_of_an_unknown_one():
  with pytest.raises(TypeError) as info:
    nets_factory.get_network_fn('resnet_v1_14', 10, se_ration=8)
  message = str(info.value)
  assert "resnet_v1_14 got unknown options ['se_ration']" in message
  for name in ('depth_multiplier', 'topology', 'batch_norm_decay',
               'output_stride', 'fold_batch_norm'):
    assert name in message
  assert 'se_ratio,' not in message  # Not an option of a plain ResNet.
  with pytest.raises(ValueError, match='use se_resnet_v1_14'):
    nets_factory.get_network_fn('resnet_v1_14', 10, se_ratio=8)
  for name in options.NAMES:
    assert name in nets_factory.valid_options('se_resnext_14_32x4d')
  # None is "unset" for a table option: the network's default.
  nets_factory.get_network_fn('simple_cnn', 10, se_ratio=None,
                              depth_multiplier=None)


# One new row, as a contributor would add it; nothing else changes.
_NEW_ROW = """
    Option('se_gate', 'enum', 'sigmoid',
           'SE gate function (builder default sigmoid).', networks='se',
           choices=('sigmoid', 'hard_sigmoid'),
           check=_one_of('gate', 'gates', ('sigmoid', 'hard_sigmoid'))),
"""

_CHECK_NEW_ROW = r"""
import dataclasses, sys, types
from absl import flags
source = open('nets/options.py').read()
end = source.index('\n)\n', source.index('OPTIONS = ('))
module = types.ModuleType('nets.options')
module.__file__ = 'nets/options.py'
sys.modules['nets.options'] = module
exec(compile(source[:end] + NEW_ROW + source[end:], 'nets/options.py',
             'exec'), module.__dict__)
import nets
nets.options = module
from modeling import model_config, model_flags
from training import config as config_lib, flags as training_flags
from diagnostics import inspect_checkpoint

train = flags.FlagValues()
training_flags.define_flags(train)
train(['train', '--model_name=se_resnet_v1_14', '--se_gate=hard_sigmoid',
       '--dataset_name=digits', '--dataset_dir=/d'])
config = training_flags.config_from_flags(train)
assert config.se_gate == 'hard_sigmoid'
assert config.model_config().model_options == {'se_gate': 'hard_sigmoid'}
assert 'se_gate' in {f.name for f in dataclasses.fields(config)}
evaluate = flags.FlagValues()
model_flags.define_model_flags(flag_values=evaluate)
evaluate(['eval', '--model_name=resnet_v1_14', '--se_gate=sigmoid'])
assert evaluate['se_gate'].help.endswith(
    'SE gate function (builder default sigmoid).')
try:
  model_flags.model_config_from_flags(evaluate)
  raise AssertionError('a plain ResNet took an SE option')
except ValueError as e:
  assert 'se_gate: resnet_v1_14 has no squeeze-and-excitation' in str(e)
try:
  config_lib.TrainConfig(model_name='se_resnet_v1_14', se_gate='relu',
                         dataset_name='digits', dataset_dir='/d').validate()
  raise AssertionError('a bad gate passed')
except ValueError as e:
  assert "--se_gate: unknown gate 'relu'" in str(e), e
inspect_checkpoint.define_flags()
flags.FLAGS(['inspect', '--checkpoint_path=x', '--se_gate=sigmoid'])
from nets import nets_factory
assert 'se_gate' in nets_factory.valid_options('se_resnet_v1_14')
assert 'se_gate' not in nets_factory.valid_options('resnet_v1_14')
print('ok')
"""


@pytest.mark.slow
def test_a_new_option_is_one_row():
  """Adds a row to the table's source and checks that the train, eval and
  export flags, `TrainConfig`, `ModelConfig`, the inspector and the factory
  take it."""
  code = 'NEW_ROW = %r\n%s' % (_NEW_ROW, _CHECK_NEW_ROW)
  result = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.startswith('ok')
