"""The evaluator on a checkpoint trained here, recounted with NumPy.

The checkpoint is the tiny SE-ResNet trained 100 steps on the digits
TFRecords, with moving averages (tests/eval_testlib.py). The recount reads the
whole test split in one batch, restores the checkpoint with a plain Saver and
counts from the logits in NumPy.
"""
import dataclasses
import json
import os

import numpy as np
from PIL import Image
import pytest

from datasets import dataset_factory
from evaluation import confusion
from evaluation import evaluator
from evaluation import restoring
from runtime.tf_compat import tf, v1
from tests import eval_testlib as tl


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  return tl.shared_checkpoint(tmp_path_factory)


@pytest.fixture(scope='module')
def recount(trained):
  """NumPy metrics from the logits of every test example."""
  data, checkpoint = trained
  config = tl.tiny_config()
  dataset = dataset_factory.get_dataset('digits', 'test', data)
  images, labels = tl.read_split(dataset, config)
  logits = tl.logits_from_checkpoint(config, checkpoint, images, 10)
  top5 = np.argsort(-logits, axis=1)[:, :5]
  return {
      'num_examples': len(labels),
      'correct': int(np.sum(np.argmax(logits, 1) == labels)),
      'in_top5': int(np.sum(np.any(top5 == labels[:, None], axis=1))),
      'loss': float(np.mean(tl.softmax_cross_entropy(logits, labels))),
      'labels': labels,
      'predictions': np.argmax(logits, 1),
  }


def _config(trained, eval_dir, **kwargs):
  data, checkpoint = trained
  return evaluator.EvalConfig(
      checkpoint_path=os.path.dirname(checkpoint), eval_dir=str(eval_dir),
      dataset_name='digits', dataset_dir=data, model=tl.tiny_config(),
      **kwargs)


@pytest.fixture(scope='module')
def uneven(trained, tmp_path_factory):
  """Batches of 7 over 360 examples (51 full batches and one of 3)."""
  eval_dir = tmp_path_factory.mktemp('eval_uneven')
  result = evaluator.evaluate_once(
      _config(trained, eval_dir, batch_size=7, confusion_matrix=True))
  return result, str(eval_dir)


def test_accuracy_equals_numpy_recount_and_every_example_counts_once(
    uneven, recount):
  result, _ = uneven
  assert result['dataset']['split'] == 'test'  # digits has no validation
  assert result['num_examples'] == 360 == recount['num_examples']
  assert result['num_batches'] == 52 and result['complete']
  metrics = result['metrics']
  assert metrics['accuracy'] == recount['correct'] / 360
  assert metrics['recall_at_5'] == recount['in_top5'] / 360
  assert metrics['loss'] == pytest.approx(recount['loss'], rel=1e-5)
  assert metrics['recall_at_5'] >= metrics['accuracy']
  assert metrics['accuracy'] > 0.5  # it learned: the recount is not vacuous
  assert result['global_step'] == tl.TRAIN_STEPS


def test_confusion_matrix_csv_matches_recount_and_png_is_drawn(uneven,
                                                                recount):
  result, _ = uneven
  matrix, names = confusion.read_csv(result['confusion_matrix_csv'])
  expected = np.zeros([10, 10], np.int64)
  np.add.at(expected, (recount['labels'], recount['predictions']), 1)
  np.testing.assert_array_equal(matrix, expected)
  assert names == [str(i) for i in range(10)]
  with Image.open(result['confusion_matrix_png']) as png:
    assert png.format == 'PNG' and png.size[0] == png.size[1] > 10 * 20
    pixels = np.asarray(png.convert('RGB'))
  assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 3  # not blank


def test_results_json_and_tensorboard_summaries(uneven):
  result, eval_dir = uneven
  with open(os.path.join(eval_dir, evaluator.RESULTS_FILE)) as f:
    written = json.load(f)
  assert written == json.loads(json.dumps(result))
  assert set(written['dataset']) == {'name', 'split', 'dataset_dir',
                                     'num_samples'}
  with open(os.path.join(eval_dir, evaluator.HISTORY_FILE)) as f:
    assert [json.loads(line)['global_step'] for line in f] == [100]
  events = tf.io.gfile.glob(os.path.join(eval_dir, 'events.out.tfevents.*'))
  values = {}
  for event in v1.train.summary_iterator(events[0]):
    for value in event.summary.value:
      values[value.tag] = (event.step, value.simple_value)
  metrics = result['metrics']
  assert values['eval/Accuracy'] == (100, pytest.approx(metrics['accuracy']))
  assert values['eval/Recall_5'] == (100,
                                     pytest.approx(metrics['recall_at_5']))
  assert values['eval/Loss'] == (100, pytest.approx(metrics['loss']))


def test_max_num_batches_limits_and_keras_style_reads_the_same_checkpoint(
    trained, recount, tmp_path):
  config = _config(trained, tmp_path, batch_size=50, max_num_batches=3)
  config = dataclasses.replace(config, model=tl.tiny_config('keras'))
  result = evaluator.evaluate_once(config)
  assert result['num_examples'] == 150 and result['num_batches'] == 3
  assert not result['complete']
  first = slice(0, 150)  # The evaluation order is the file order.
  correct = np.sum(recount['predictions'][first] == recount['labels'][first])
  assert result['metrics']['accuracy'] == correct / 150
  assert result['layer_style'] == 'keras'


def test_labels_outside_the_logits_after_labels_offset_are_an_error(
    trained, tmp_path):
  data, _ = trained
  config = tl.tiny_config(model_name='simple_cnn', labels_offset=1)
  checkpoint = tl.init_checkpoint(tmp_path / 'train', config, 9)
  with pytest.raises(evaluator.EvaluationError,
                     match=r'label 0 of digits/test becomes -1 with '
                     r"labels_offset=1, outside the network's classes "
                     r'\[0, 9\)'):
    evaluator.evaluate_once(evaluator.EvalConfig(
        checkpoint_path=checkpoint, eval_dir=str(tmp_path / 'eval'),
        dataset_name='digits', dataset_dir=data, model=config))


def test_ema_evaluation_loads_the_shadow_variables(trained, uneven,
                                                   tmp_path):
  data, checkpoint = trained
  ema = evaluator.evaluate_once(
      _config(trained, tmp_path / 'ema', batch_size=50,
              moving_average_decay=tl.EMA_DECAY))
  # The same weights written under the raw names, evaluated plainly.
  tensors = tl.read_tensors(checkpoint)
  swapped = {name: tensors.get(name + restoring.EMA_SUFFIX, value)
             for name, value in tensors.items()
             if not name.endswith(restoring.EMA_SUFFIX)}
  trainable = [n for n in tensors if n + restoring.EMA_SUFFIX in tensors]
  assert len(trainable) > 50
  assert any(not np.array_equal(tensors[n], swapped[n]) for n in trainable)
  swapped_ckpt = tl.save_tensors(str(tmp_path / 'swapped' / 'model.ckpt'),
                                 swapped)
  plain = evaluator.evaluate_once(evaluator.EvalConfig(
      checkpoint_path=swapped_ckpt, eval_dir=str(tmp_path / 'plain'),
      dataset_name='digits', dataset_dir=data, model=tl.tiny_config(),
      batch_size=50))
  assert ema['metrics']['accuracy'] == plain['metrics']['accuracy']
  assert ema['metrics']['loss'] == pytest.approx(plain['metrics']['loss'],
                                                 rel=1e-6)
  raw_loss = uneven[0]['metrics']['loss']
  assert abs(ema['metrics']['loss'] - raw_loss) > 1e-3
  assert ema['moving_average_decay'] == tl.EMA_DECAY

  # A checkpoint without averages is refused with a clear message.
  with tf.Graph().as_default():
    images = v1.placeholder(tf.float32, [None, 32, 32, 3])
    tl.model_builder.build_logits(tl.tiny_config(), images, 10, False)
    variables = restoring.model_variables(tl.TINY_MODEL)
    with pytest.raises(restoring.CheckpointMismatchError,
                       match='has no moving averages'):
      restoring.plan(swapped_ckpt, variables, tl.TINY_MODEL,
                     use_moving_averages=True)


def test_default_split_is_one_the_dataset_has():
  assert evaluator.default_split('digits') == 'test'
  assert evaluator.default_split('flowers') == 'validation'
  assert evaluator.default_split('imagenet') == 'validation'
  assert evaluator.default_split('cifar10') == 'test'
