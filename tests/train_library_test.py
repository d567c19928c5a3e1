"""The training library called in-process: optimizers, schedules, styles,
batch norm updates, moving averages, evaluation, config checks."""
import re
import numpy as np
import pytest

from evaluation import evaluator
from checkpointing import checkpoints
from runtime.tf_compat import tf, v1
from tests.train_testlib import digits_dir  # pylint: disable=unused-import
from tests.train_testlib import read_checkpoint
from training import config as config_lib
from training import errors
from training import hooks
from training import learning_rate
from training import loop
from training import optimizers
from training import scopes


def _config(dataset_dir, train_dir, **overrides):
  values = dict(dataset_name='digits', dataset_dir=dataset_dir,
                train_dir=str(train_dir), model_name='simple_cnn',
                train_image_size=16, batch_size=32, max_number_of_steps=30,
                learning_rate_decay_type='fixed', log_every_n_steps=1000,
                save_interval_secs=3600, save_summaries_secs=3600,
                random_seed=3, num_epochs_per_decay=0.2)
  values.update(overrides)
  return config_lib.TrainConfig(**values).validate()


# Every optimizer once, every decay type and layer style among them; learning
# rates picked so 30 steps of simple_cnn clearly lower the loss.
MATRIX = [
    ('adadelta', 'exponential', 'slim', 1.0, {}),
    ('adagrad', 'polynomial', 'raw', 0.1, {}),
    ('adam', 'fixed', 'keras', 0.01, dict(opt_epsilon=1e-3)),
    ('ftrl', 'exponential', 'slim', 0.3, {}),
    ('momentum', 'polynomial', 'keras', 0.05, dict(label_smoothing=0.1)),
    ('rmsprop', 'fixed', 'raw', 0.003, dict(opt_epsilon=1e-3,
                                            moving_average_decay=0.9)),
    ('sgd', 'exponential', 'slim', 0.1, dict(weight_decay=1e-3)),
]


@pytest.mark.parametrize('optimizer,decay,style,lr,extra', MATRIX,
                         ids=[m[0] for m in MATRIX])
def test_each_optimizer_and_decay_lowers_the_loss(digits_dir, tmp_path,
                                                  optimizer, decay, style, lr,
                                                  extra):
  config = _config(digits_dir, tmp_path, optimizer=optimizer,
                   learning_rate_decay_type=decay, layer_style=style,
                   learning_rate=lr, **extra)
  result = loop.train(config)
  assert result.start_step == 0 and result.global_step == 30
  assert result.num_steps == 30
  first = np.mean(result.first_losses[:5])
  last = np.mean(result.last_losses[-5:])
  assert last < first - 0.3, (first, last)
  assert result.checkpoint.endswith('model.ckpt-30')
  names = set(read_checkpoint(result.checkpoint))
  # Slim names whatever the style, slots included.
  assert 'simple_cnn/conv1/weights' in names
  assert not any('kernel' in n or n.endswith('/bias') for n in names)
  if extra.get('moving_average_decay'):
    assert 'simple_cnn/logits/weights/ExponentialMovingAverage' in names


def test_learning_rate_schedules_follow_slim():
  assert learning_rate.decay_steps(1437, 32, 2.0) == 89
  assert learning_rate.decay_steps(1437, 32, 2.0, replicas_to_aggregate=2) == 44
  base = dict(learning_rate=0.1, learning_rate_decay_factor=0.5,
              num_epochs_per_decay=1.0, end_learning_rate=0.01, batch_size=10)
  with tf.Graph().as_default():
    step = v1.placeholder(tf.int64, [])
    rates = {kind: learning_rate.build_learning_rate(
        config_lib.TrainConfig(learning_rate_decay_type=kind, **base), 100,
        step) for kind in learning_rate.DECAY_TYPES}
    with v1.Session() as session:
      def at(kind, s):
        return session.run(rates[kind], {step: s})
      assert at('fixed', 0) == at('fixed', 1000) == pytest.approx(0.1)
      # 10 steps per decay, staircase.
      assert at('exponential', 9) == pytest.approx(0.1)
      assert at('exponential', 10) == pytest.approx(0.05)
      assert at('exponential', 25) == pytest.approx(0.025)
      assert at('polynomial', 5) == pytest.approx(0.055)
      assert at('polynomial', 50) == pytest.approx(0.01)


def test_batch_norm_statistics_update_in_trainable_scopes_only(
    digits_dir, tmp_path, caplog):
  """Keras BN keeps its updates on the layers; they must run every step, and
  with --trainable_scopes only inside those scopes (frozen means frozen)."""
  config = _config(digits_dir, tmp_path, model_name='se_resnet_v1_14',
                   depth_multiplier=0.125, layer_style='keras', batch_size=8,
                   max_number_of_steps=2, optimizer='momentum',
                   learning_rate=0.01,
                   trainable_scopes=('se_resnet_v1_14/block4',))
  with caplog.at_level('WARNING'):
    result = loop.train(config)
  start = read_checkpoint(re.sub(r'-2$', '-0', result.checkpoint))
  end = read_checkpoint(result.checkpoint)
  trained = 'se_resnet_v1_14/block4/unit_1/bottleneck_v1/conv1/BatchNorm/'
  frozen = 'se_resnet_v1_14/conv1/BatchNorm/'
  for name in ('moving_mean', 'moving_variance', 'gamma'):
    assert np.abs(end[trained + name] - start[trained + name]).max() > 0
    np.testing.assert_array_equal(end[frozen + name], start[frozen + name])
  assert 'se_resnet_v1_14/block4/unit_1/bottleneck_v1/se/fc2/weights' in end
  # 2 steps at Slim's decay 0.997: the warning says what to pass.
  assert '--batch_norm_decay' in caplog.text


def test_resuming_another_model_fails_naming_the_variables(digits_dir,
                                                            tmp_path):
  loop.train(_config(digits_dir, tmp_path, max_number_of_steps=1))
  # 24x24 inputs change the size of simple_cnn's dense layer.
  other = _config(digits_dir, tmp_path, max_number_of_steps=2,
                  train_image_size=24)
  with pytest.raises(checkpoints.CheckpointMismatchError,
                     match=r'cannot resume from \S+model\.ckpt-1: .*shape '
                     r'mismatch: simple_cnn/logits/weights \(checkpoint '
                     r'\[1024, 10\], model \[2304, 10\]\).*new --train_dir'):
    loop.train(other)


def test_checkpoints_evaluate_with_the_shared_evaluator(digits_dir, tmp_path):
  """Keras-style weights and their moving averages, saved under Slim names,
  are what eval_image_classifier.py restores."""
  config = _config(digits_dir, tmp_path / 'train', optimizer='adam',
                   learning_rate=0.01, opt_epsilon=1e-3, layer_style='keras',
                   moving_average_decay=0.9, max_number_of_steps=60)
  loop.train(config)
  for decay in (None, 0.9):
    result = evaluator.evaluate_once(evaluator.EvalConfig(
        checkpoint_path=config.train_dir, eval_dir=str(tmp_path / 'eval'),
        dataset_name='digits', dataset_dir=digits_dir,
        model=config.model_config(), dataset_split_name='test',
        moving_average_decay=decay))
    assert result['num_examples'] == 360
    assert result['global_step'] == 60
    assert result['metrics']['accuracy'] > 0.5, (decay, result['metrics'])


def test_config_errors_name_the_flag_and_valid_values(digits_dir):
  cases = [
      (dict(dataset_dir=None), '--dataset_dir is required'),
      (dict(model_name='resnet_v1_7'), 'se_resnet_v1_50'),
      (dict(dataset_name='cifar100'), 'cifar10, digits'),
      (dict(optimizer='lamb'), 'adadelta, adagrad, adam'),
      (dict(learning_rate_decay_type='cosine'), 'fixed, exponential'),
      (dict(layer_style='torch'), 'slim, raw, keras'),
      (dict(dataset_split_name='validation'), 'test, train'),
      (dict(se_ratio=8), 'se_simple_cnn'),
      (dict(depth_multiplier=0.5), 'has no depth multiplier'),
      (dict(checkpoint_model_scope='resnet_v1_50'), 'needs --checkpoint_path'),
      (dict(batch_norm_decay=1.5), '(0, 1)'),
  ]
  for overrides, expected in cases:
    values = dict(dataset_name='digits', dataset_dir=digits_dir,
                  model_name='simple_cnn')
    values.update(overrides)
    with pytest.raises(errors.ConfigError) as info:
      config_lib.TrainConfig(**values).validate()
    assert expected in str(info.value), (overrides, str(info.value))
    assert '\n' not in str(info.value)


def test_scopes_match_on_boundaries_and_globs():
  name = 'net/block1/unit_1/bottleneck_v1/se/fc1/weights'
  assert scopes.matches_scope(name, 'net/block1')
  assert not scopes.matches_scope('net/logits_aux/weights', 'net/logits')
  assert scopes.matches_scope(name, 'net/*/se')
  assert not scopes.matches_scope('net/block1/unit_1/bottleneck_v1/conv1/'
                                  'weights', 'net/*/se')
  assert scopes.split_scopes(' a, b/ ,,c') == ('a', 'b', 'c')
  with tf.Graph().as_default():
    v1.get_variable('net/logits/kernel', [2])
    v1.get_variable('net/logits/bias/Momentum', [2])
    assert sorted(checkpoints.slim_named_variables(v1.global_variables())) == [
        'net/logits/biases/Momentum', 'net/logits/weights']
    with pytest.raises(errors.ConfigError, match='net/logits'):
      scopes.variables_to_train(['net/logit'])


def test_batch_norm_decay_warning():
  assert hooks.batch_norm_decay_warning(0.997, 500) is not None
  assert '22%' in hooks.batch_norm_decay_warning(0.997, 500)
  assert hooks.batch_norm_decay_warning(0.997, 2000) is None
  assert hooks.batch_norm_decay_warning(0.9, 300) is None


def test_optimizer_names_cover_slim():
  assert optimizers.OPTIMIZER_NAMES == ('adadelta', 'adagrad', 'adam', 'ftrl',
                                        'momentum', 'rmsprop', 'sgd')
