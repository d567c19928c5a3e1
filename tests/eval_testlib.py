"""Helpers for the evaluation, export and inspector tests.

They make real data and real checkpoints without the trainer: the digits
TFRecords from the converter, and a network built through
`model_builder.build_classifier`, trained a few steps with a plain optimizer
and saved with a v1 Saver under Slim names (plus `global_step`, the optimizer
slots and, if asked, the EMA shadow variables), as training does.
"""
import os
import subprocess
import sys

import numpy as np

from datasets import dataset_factory
from datasets import download_and_convert_digits
from datasets import pipeline
from modeling import model_builder
from evaluation import restoring
from checkpointing import checkpoints
from runtime.tf_compat import tf, v1

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The tiny SE-ResNet used by these tests: 32x32 digits, widths / 8; a fast
# batch-norm decay so that 100 steps settle the moving statistics.
TINY_MODEL = 'se_resnet_v1_14'
TINY_OPTIONS = {'depth_multiplier': 0.125, 'batch_norm_decay': 0.9}
# Flags for the same model; the preprocessing is the digits dataset's default.
TINY_FLAGS = ['--model_name=se_resnet_v1_14', '--depth_multiplier=0.125',
              '--batch_norm_decay=0.9']
TINY_SIZE = 32
TRAIN_STEPS = 100
EMA_DECAY = 0.9

_shared = {}


def tiny_config(style='slim', model_name=TINY_MODEL, **kwargs):
  """The tiny model's `ModelConfig` (keyword arguments override)."""
  options = TINY_OPTIONS if model_name.startswith(('se_', 'resnet')) else {}
  kwargs = dict(dict(preprocessing_name='digits', image_size=TINY_SIZE,
                     model_options=options), **kwargs)
  return model_builder.ModelConfig(model_name, layer_style=style, **kwargs)


def make_digits(directory):
  """Converts scikit-learn's digits into Slim TFRecords in `directory`."""
  download_and_convert_digits.run(str(directory))
  return str(directory)


def train_checkpoint(train_dir, dataset_dir, config, steps, ema_decay=None,
                     learning_rate=0.05, batch_size=32, seed=0,
                     before_save=None):
  """Trains `steps` Momentum steps on digits/train and saves a checkpoint.

  `before_save()`, if given, is called after the steps, right before saving.

  Returns:
    The checkpoint prefix (`train_dir/model.ckpt-<steps>`).
  """
  with tf.Graph().as_default():
    v1.set_random_seed(seed)
    global_step = v1.train.get_or_create_global_step()
    dataset = dataset_factory.get_dataset('digits', 'train', dataset_dir)
    model = model_builder.build_classifier(config, dataset, batch_size,
                                           is_training=True, seed=seed)
    v1.losses.sparse_softmax_cross_entropy(model.labels, model.logits)
    loss = v1.losses.get_total_loss()
    optimizer = v1.train.MomentumOptimizer(learning_rate, 0.9)
    with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
      train_op = optimizer.minimize(loss, global_step=global_step)
    variables = restoring.model_variables(config.model_scope)
    save_map = checkpoints.slim_named_variables(variables)
    if ema_decay:
      ema = v1.train.ExponentialMovingAverage(ema_decay)
      with tf.control_dependencies([train_op]):
        train_op = ema.apply(v1.trainable_variables())
      for variable in v1.trainable_variables():
        save_map[checkpoints.slim_name(variable) + restoring.EMA_SUFFIX] = (
            ema.average(variable))
    for variable in v1.global_variables():  # global_step, Momentum slots
      if variable.ref() not in {v.ref() for v in save_map.values()}:
        save_map[variable.op.name] = variable
    saver = v1.train.Saver(save_map)
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      for _ in range(steps):
        sess.run(train_op)
      if before_save:
        before_save()
      return saver.save(sess, os.path.join(str(train_dir), 'model.ckpt'),
                        global_step=global_step)


def shared_checkpoint(tmp_path_factory):
  """(digits dir, checkpoint prefix) of the tiny model trained with EMA,
  made once per test process and shared by the test files."""
  if not _shared:
    base = tmp_path_factory.mktemp('eval_shared')
    data = make_digits(base / 'digits')
    checkpoint = train_checkpoint(base / 'train', data, tiny_config(),
                                  TRAIN_STEPS, ema_decay=EMA_DECAY,
                                  learning_rate=0.02)
    _shared.update(data=data, checkpoint=checkpoint)
  return _shared['data'], _shared['checkpoint']


def init_checkpoint(train_dir, config, num_classes):
  """Saves freshly initialised weights of `config`'s network (Slim names,
  global step 0); returns the checkpoint prefix."""
  size = model_builder.image_size(config)
  with tf.Graph().as_default():
    images = v1.placeholder(
        tf.float32, [1, size, size, model_builder.image_channels(config)])
    model_builder.build_logits(config, images, num_classes, is_training=False)
    save_map = checkpoints.slim_named_variables(
        restoring.model_variables(config.model_scope))
    save_map['global_step'] = v1.train.get_or_create_global_step()
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      return v1.train.Saver(save_map).save(
          sess, os.path.join(str(train_dir), 'model.ckpt'), global_step=0)


def save_tensors(prefix, tensors):
  """Writes {name: ndarray} as a v1 checkpoint at `prefix`."""
  with tf.Graph().as_default():
    variables = {name: v1.Variable(value, name='v%d' % i)
                 for i, (name, value) in enumerate(sorted(tensors.items()))}
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      return v1.train.Saver(variables).save(sess, prefix)


def read_tensors(checkpoint):
  reader = tf.train.load_checkpoint(checkpoint)
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()}


def read_split(dataset, config):
  """All (images, labels) of a split, preprocessed for `config`, in order."""
  with tf.Graph().as_default():
    images, labels = pipeline.make_batches(
        dataset, dataset.num_samples, model_builder.preprocessing_fn(
            config, is_training=False, dataset_name=dataset.name),
        model_builder.image_size(config),
        is_training=False)
    with v1.Session() as sess:
      return sess.run([images, labels])


def logits_from_checkpoint(config, checkpoint, images, num_classes):
  """Runs the graph-mode model restored by a plain Saver on `images`."""
  with tf.Graph().as_default():
    inputs = v1.placeholder(tf.float32, [None] + list(images.shape[1:]))
    logits, _ = model_builder.build_logits(config, inputs, num_classes,
                                           is_training=False)
    variables = restoring.model_variables(config.model_scope)
    with v1.Session() as sess:
      v1.train.Saver(checkpoints.slim_named_variables(variables)).restore(
          sess, checkpoint)
      return sess.run(logits, {inputs: images})


def softmax_cross_entropy(logits, labels):
  """Per-example loss in float64 numpy."""
  logits = logits.astype(np.float64)
  shifted = logits - logits.max(axis=1, keepdims=True)
  log_z = np.log(np.exp(shifted).sum(axis=1))
  return log_z - shifted[np.arange(len(labels)), labels]


def run_script(args, timeout=300, **kwargs):
  """Runs `python <args>` from the project root; returns CompletedProcess."""
  env = dict(os.environ, PYTHONPATH=ROOT)
  return subprocess.run([sys.executable] + list(args), cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=timeout,
                        **kwargs)


def start_script(args):
  """Starts `python <args>` from the project root; returns the Popen."""
  env = dict(os.environ, PYTHONPATH=ROOT)
  return subprocess.Popen([sys.executable] + list(args), cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
