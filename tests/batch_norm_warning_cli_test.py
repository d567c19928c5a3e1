"""The --batch_norm_decay warning is given only when batch norm's moving
statistics will be updated by a run too short for them: not when
--trainable_scopes freezes them, nor when a resumed run has no step left."""
import pytest

from tests import train_testlib
from tests.train_testlib import digits_dir  # pylint: disable=unused-import

pytestmark = pytest.mark.slow  # runs the trainer in a subprocess

WARNING = 'averages batch statistics over'


def _train(digits_dir, train_dir, **overrides):
  flags = dict(model_name='resnet_v1_14', depth_multiplier=0.125,
               train_image_size=16, batch_size=4)
  flags.update(overrides)
  result = train_testlib.run_script(train_testlib.train_flags(
      digits_dir, train_dir, **flags))
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stderr


def test_no_batch_norm_warning_when_frozen_or_nothing_left(digits_dir,
                                                           tmp_path):
  frozen_dir = str(tmp_path / 'frozen')
  frozen = _train(digits_dir, frozen_dir, max_number_of_steps=2,
                  trainable_scopes='resnet_v1_14/logits')
  assert WARNING not in frozen
  # Resumed at its last step with every layer trainable: no step runs.
  resumed = _train(digits_dir, frozen_dir, max_number_of_steps=2)
  assert 'Resuming from' in resumed and WARNING not in resumed
  # The same short run updating the statistics is warned about.
  updated = _train(digits_dir, str(tmp_path / 'updated'),
                   max_number_of_steps=2)
  assert '--batch_norm_decay=0.997 %s ~333 steps, but the run has 2' % (
      WARNING) in updated
