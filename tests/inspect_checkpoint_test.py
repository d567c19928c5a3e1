"""diagnostics.inspect_checkpoint: listing, diff against a model, scope guess, CLI."""
import numpy as np
import pytest

from diagnostics import inspect_checkpoint as inspect
from nets import nets_factory
from tests import eval_testlib as tl

MODEL = tl.TINY_MODEL
OPTIONS = {'depth_multiplier': 0.125}
MISSING = MODEL + '/block2/unit_1/bottleneck_v1/se/fc1/biases'
WRONG_SHAPE = MODEL + '/block3/unit_1/bottleneck_v1/conv2/weights'
UNUSED = MODEL + '/block5/unit_1/bottleneck_v1/conv1/weights'


@pytest.fixture(scope='module')
def model_shapes():
  return nets_factory.variable_shapes(MODEL, 10, **OPTIONS)


@pytest.fixture(scope='module')
def damaged(model_shapes, tmp_path_factory):
  """A checkpoint of the model with one variable missing, one unused and one
  of the wrong shape, plus training state (global step, Momentum slots)."""
  tensors = {name: np.zeros(shape, np.float32)
             for name, shape in model_shapes.items() if name != MISSING}
  shape = list(model_shapes[WRONG_SHAPE])
  tensors[WRONG_SHAPE] = np.zeros(shape[:-1] + [shape[-1] + 1], np.float32)
  tensors[UNUSED] = np.zeros([1, 1, 8, 8], np.float32)
  tensors['global_step'] = np.array(42, np.int64)
  tensors[MODEL + '/logits/weights/Momentum'] = np.zeros(
      model_shapes[MODEL + '/logits/weights'], np.float32)
  directory = tmp_path_factory.mktemp('damaged')
  tl.save_tensors(str(directory / 'model.ckpt-42'), tensors)
  return str(directory), shape


def test_diff_names_the_missing_unused_and_wrong_shape_variables(
    damaged, model_shapes):
  directory, shape = damaged
  diff = inspect.diff_checkpoint(directory, MODEL, **OPTIONS)
  assert diff.missing == [MISSING]
  assert diff.unused == [UNUSED]
  assert diff.mismatched == [(WRONG_SHAPE, shape[:-1] + [shape[-1] + 1],
                              shape)]
  assert diff.training_state == ['global_step',
                                 MODEL + '/logits/weights/Momentum']
  assert len(diff.matched) == len(model_shapes) - 2
  assert not diff.fits and diff.scope_guess is None


def test_listing_has_shapes_sizes_and_total(damaged, model_shapes):
  directory, _ = damaged
  infos = {i.name: i for i in inspect.list_variables(directory)}
  assert infos[UNUSED].shape == (1, 1, 8, 8) and infos[UNUSED].size == 64
  assert infos['global_step'].dtype == 'int64'
  lines = inspect.format_listing(list(infos.values()))
  total = sum(i.size for i in infos.values())
  state = 1 + infos[MODEL + '/logits/weights/Momentum'].size
  assert lines[-1] == (
      '%d variables, %s values; weights without training state: %d '
      'variables, %s values' % (len(infos), '{:,}'.format(total),
                                len(infos) - 2, '{:,}'.format(total - state)))
  assert len(lines) == len(infos) + 2
  assert lines[1].split()[:2] == ['global_step', '[]']


def test_scope_guess_maps_a_plain_resnet_checkpoint_onto_se_resnet(
    tmp_path, model_shapes):
  plain = nets_factory.variable_shapes('resnet_v1_14', 10, **OPTIONS)
  tl.save_tensors(str(tmp_path / 'plain.ckpt'),
                  {n: np.zeros(s, np.float32) for n, s in plain.items()})
  diff = inspect.diff_checkpoint(str(tmp_path / 'plain.ckpt'), MODEL,
                                 **OPTIONS)
  assert not diff.matched and len(diff.missing) == len(model_shapes)
  assert diff.scope_guess == inspect.ScopeGuess('resnet_v1_14', MODEL,
                                                len(plain))
  se_variables = sorted(n for n in model_shapes if '/se/' in n)
  assert len(se_variables) == 4 * 4  # 4 units x fc1/fc2 x weights/biases
  assert diff.mapped.missing == se_variables
  assert diff.mapped.unused == [] and diff.mapped.mismatched == []


def test_keras_style_model_diffs_clean_against_slim_names(damaged):
  directory, _ = damaged
  diff = inspect.diff_checkpoint(directory, MODEL, style='keras', **OPTIONS)
  assert diff.missing == [MISSING] and diff.unused == [UNUSED]


@pytest.mark.slow
def test_command_line(damaged, tmp_path):
  directory, _ = damaged
  (tmp_path / 'empty').mkdir()
  module = ['-m', 'diagnostics.inspect_checkpoint']
  runs = {
      'diff': tl.start_script(module + [
          '--checkpoint_path=' + directory, '--model_name=' + MODEL,
          '--depth_multiplier=0.125', '--layer_style=raw']),
      'empty': tl.start_script(module + [
          '--checkpoint_path=%s' % (tmp_path / 'empty')]),
  }
  out = {name: p.communicate(timeout=300) + (p.returncode,)
         for name, p in runs.items()}

  stdout, _, code = out['diff']
  assert code == 1  # does not fit
  assert 'missing from the checkpoint: 1\n  %s\n' % MISSING in stdout
  assert 'unused in the checkpoint: 1\n  %s\n' % UNUSED in stdout
  assert 'shape mismatch: 1\n  %s: checkpoint' % WRONG_SHAPE in stdout
  assert stdout.rstrip().endswith('fits: no')
  stdout, stderr, code = out['empty']
  assert code == 2
  assert stderr.splitlines() == ['error: No checkpoint found in directory %s'
                                 % (tmp_path / 'empty')]
