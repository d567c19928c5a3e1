"""Shared helpers of the training tests: data, subprocesses, checkpoints.

    from tests.train_testlib import digits_dir  # a session-scoped fixture
    proc = run_script(train_flags(digits_dir, train_dir, max_number_of_steps=4))
    values = read_checkpoint(tf.train.latest_checkpoint(train_dir))
"""
import os
import subprocess
import sys

import numpy as np
import pytest

from checkpointing import checkpoints
from datasets import conversion
from datasets import dataset_files
from datasets import download_and_convert_digits
from nets import nets_factory
from runtime.tf_compat import tf, v1

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, 'train_image_classifier.py')


@pytest.fixture(scope='session')
def digits_dir(tmp_path_factory):
  """The real digits dataset (1437 train / 360 test TFRecords), made once."""
  directory = str(tmp_path_factory.mktemp('digits'))
  download_and_convert_digits.run(directory)
  return directory


def write_fake_imagenet(directory, num_examples=8, size=32, seed=0):
  """A one-shard ImageNet-format split 'train' (labels 1..1000, PNG RGB)."""
  os.makedirs(directory, exist_ok=True)
  rng = np.random.RandomState(seed)
  images = rng.randint(0, 256, (num_examples, size, size, 3)).astype(np.uint8)
  labels = rng.randint(1, 1001, num_examples)
  conversion.write_split(directory, 'train-00000-of-00001',
                         conversion.png_records(images, labels))
  dataset_files.write_splits_file({'train': num_examples}, directory)
  return directory


def train_flags(dataset_dir, train_dir, **overrides):
  """Flags of a quick simple_cnn run on digits; keywords override/add."""
  values = dict(dataset_name='digits', dataset_dir=dataset_dir,
                train_dir=train_dir, model_name='simple_cnn',
                train_image_size=16, batch_size=16, optimizer='sgd',
                learning_rate=0.05, learning_rate_decay_type='fixed',
                log_every_n_steps=1, save_summaries_secs=3600,
                save_interval_secs=3600, random_seed=1)
  values.update(overrides)
  return ['--%s=%s' % (k, v) for k, v in values.items() if v is not None]


def run_script(args, timeout=600):
  """Runs train_image_classifier.py in a subprocess; returns the result."""
  return subprocess.run([sys.executable, SCRIPT] + list(args), cwd=ROOT,
                        capture_output=True, text=True, timeout=timeout)


def start_script(args):
  """Starts train_image_classifier.py; the caller waits or kills."""
  return subprocess.Popen([sys.executable, SCRIPT] + list(args), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)


def read_checkpoint(path):
  """{name: numpy value} of every tensor in a checkpoint."""
  reader = tf.train.load_checkpoint(path)
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()}


def write_model_checkpoint(path, model_name, num_classes, image_size=32,
                           seed=0, **model_options):
  """Saves a randomly initialised model under Slim names, with random
  (non-default) batch-norm statistics; returns {name: value}."""
  with tf.Graph().as_default():
    v1.set_random_seed(seed)
    network_fn = nets_factory.get_network_fn(model_name, num_classes,
                                             is_training=False,
                                             **model_options)
    network_fn(tf.zeros([1, image_size, image_size, 3]))
    variables = v1.global_variables()
    rng = np.random.RandomState(seed)
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      for variable in variables:
        if 'moving_' in variable.op.name:
          shape = variable.shape.as_list()
          variable.load(rng.uniform(0.5, 1.5, shape).astype(np.float32),
                        session)
      v1.train.Saver(checkpoints.slim_named_variables(variables)).save(
          session, path, write_meta_graph=False)
  return read_checkpoint(path)


def all_finite(values):
  return all(np.all(np.isfinite(v)) for v in values.values()
             if np.issubdtype(np.asarray(v).dtype, np.floating))
