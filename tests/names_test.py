"""The TensorFlow-free name lists agree with the modules that build things."""
import inspect
import subprocess
import sys

import pytest

from nets import layers
from nets import names
from nets import nets_factory
from nets import options
from nets import resnet_v1
from preprocessing import names as preprocessing_names
from preprocessing import preprocessing_factory
from tests import train_testlib


def test_network_names_styles_and_options_agree():
  assert list(names.NETWORK_NAMES) == nets_factory.network_names()
  for name, builder in nets_factory.networks_map.items():
    accepts = 'depth_multiplier' in inspect.signature(builder).parameters
    assert names.has_depth_multiplier(name) == accepts, name
  for style in names.STYLES:
    layers.get(style)  # imports the style's module
  assert set(options.SE_NAMES) == set(inspect.signature(
      resnet_v1.se_spec).parameters)
  for name in names.NETWORK_NAMES:
    preprocessing_factory.get_preprocessing(name)  # every network has one


def test_preprocessing_names_map_to_their_functions():
  for name, style in preprocessing_names.STYLE_OF.items():
    assert (preprocessing_factory.PREPROCESSING_FNS[name] is
            preprocessing_factory.STYLE_FNS[style])


@pytest.mark.slow
def test_flag_modules_import_without_tensorflow():
  code = ('import sys\n'
          'from training import flags, config\n'
          'from modeling import model_flags\n'
          'from runtime import script_util\n'
          'from datasets import dataset_factory, converters\n'
          'config.TrainConfig(dataset_dir="d", train_dir="t", '
          'model_name="se_resnet_v1_14", dataset_name="digits").validate()\n'
          'print(sorted(m for m in sys.modules if m.startswith("tensorflow")))')
  result = subprocess.run([sys.executable, '-c', code], cwd=train_testlib.ROOT,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip() == '[]'
