"""Clones: two towers on the CPU average their gradients like one big batch."""
import numpy as np
import pytest

from deployment import cluster
from deployment import model_deploy
from nets import nets_factory
from runtime.tf_compat import tf, v1

BATCH, SIZE, CLASSES = 4, 16, 5


def _batch(seed=0):
  rng = np.random.RandomState(seed)
  images = rng.uniform(-1, 1, (2 * BATCH, SIZE, SIZE, 3)).astype(np.float32)
  labels = rng.randint(0, CLASSES, 2 * BATCH).astype(np.int64)
  return images, labels


def _gradients(num_clones, style):
  """First-step gradients of simple_cnn with `num_clones` clones."""
  images, labels = _batch()
  network_fn = nets_factory.get_network_fn(
      'simple_cnn', CLASSES, weight_decay=1e-3, is_training=True, style=style)
  with tf.Graph().as_default():
    v1.set_random_seed(1)
    config = model_deploy.DeploymentConfig(num_clones=num_clones,
                                           clone_on_cpu=True)
    image_batches = np.split(images, num_clones)
    label_batches = np.split(labels, num_clones)
    feeds = iter(zip(image_batches, label_batches))

    def model_fn():
      clone_images, clone_labels = next(feeds)
      logits, _ = network_fn(tf.constant(clone_images))
      v1.losses.sparse_softmax_cross_entropy(tf.constant(clone_labels), logits)
      return logits

    clones = model_deploy.create_clones(config, model_fn)
    optimizer = v1.train.GradientDescentOptimizer(0.1)
    total_loss, grads_and_vars = model_deploy.optimize_clones(clones,
                                                              optimizer)
    names = [v.op.name for _, v in grads_and_vars]
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      # Same initial weights whatever the number of clones.
      for variable in v1.trainable_variables():
        rng = np.random.RandomState(abs(hash(variable.op.name)) % 2**31)
        shape = variable.shape.as_list()
        sess.run(variable.assign(rng.normal(0, 0.1, shape).astype(np.float32)))
      loss, grads = sess.run([total_loss, [g for g, _ in grads_and_vars]])
    return loss, dict(zip(names, grads)), len(names)


@pytest.mark.parametrize('style', ['slim', 'raw', 'keras'])
def test_two_clones_average_gradients_like_the_doubled_batch(style):
  one_loss, one_grads, one_count = _gradients(1, style)
  two_loss, two_grads, two_count = _gradients(2, style)
  assert one_count == two_count == 6  # Variables are shared, not copied.
  np.testing.assert_allclose(two_loss, one_loss, rtol=1e-5)
  for name, grad in one_grads.items():
    scale = np.abs(grad).max()
    assert np.abs(two_grads[name] - grad).max() <= 1e-5 * scale + 1e-7, name


def test_regularization_is_counted_once_and_updates_come_from_clone_0():
  network_fn = nets_factory.get_network_fn(
      'resnet_v1_14', CLASSES, weight_decay=1e-3, is_training=True,
      depth_multiplier=0.125)
  with tf.Graph().as_default():
    config = model_deploy.DeploymentConfig(num_clones=2, clone_on_cpu=True)

    def model_fn():
      logits, _ = network_fn(tf.zeros([2, 32, 32, 3]))
      v1.losses.sparse_softmax_cross_entropy(tf.zeros([2], tf.int64), logits)

    clones = model_deploy.create_clones(config, model_fn)
    regularization = v1.losses.get_regularization_losses()
    kernels = [v for v in v1.trainable_variables()
               if v.op.name.endswith('/weights')]
    updates = model_deploy.clone_update_ops(clones)
    all_updates = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
    total_loss, _ = model_deploy.optimize_clones(
        clones, v1.train.GradientDescentOptimizer(0.1))
    assert len(regularization) == len(kernels)  # Once, not once per clone.
    assert len(updates) * 2 == len(all_updates)
    assert all(u.name.startswith('clone_0/') for u in updates)
    with v1.Session() as sess:
      sess.run(v1.global_variables_initializer())
      reg, losses, total = sess.run([
          tf.add_n(regularization),
          [v1.losses.get_losses(c.scope)[0] for c in clones], total_loss])
    np.testing.assert_allclose(total, reg + sum(losses) / 2, rtol=1e-5)


def test_clone_and_variable_devices():
  local = model_deploy.DeploymentConfig(num_clones=2, clone_on_cpu=True)
  assert local.clone_device(1) == '/device:CPU:0'
  assert local.variables_device() == '/device:CPU:0'
  gpus = model_deploy.DeploymentConfig(num_clones=2)
  assert gpus.clone_device(1) == '/device:GPU:1'
  remote = model_deploy.DeploymentConfig(num_clones=1, replica_id=1,
                                         num_replicas=2, num_ps_tasks=1)
  assert remote.clone_device(0) == '/job:worker/task:1'
  with tf.Graph().as_default():
    with v1.device(remote.variables_device()):
      step = v1.train.get_or_create_global_step()
    assert step.device == '/job:ps/task:0'
  with pytest.raises(ValueError, match='num_ps_tasks'):
    model_deploy.DeploymentConfig(num_replicas=2)


@pytest.mark.parametrize('text, message', [
    ('{not json', 'not valid JSON'),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}}', '"cluster" and "task"'),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", '
     '"index": 2}}', 'out of range'),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "evaluator", '
     '"index": 0}}', "job 'evaluator' is not in the cluster"),
    ('{"cluster": {"worker": ["127.0.0.1:1"], "boss": ["x:1"]}, "task": '
     '{"type": "worker", "index": 0}}', 'unknown jobs'),
])
def test_bad_tf_config_is_one_clear_error(text, message):
  with pytest.raises(cluster.ClusterConfigError, match=message):
    cluster.from_flags_or_env(environ={'TF_CONFIG': text})


def test_cluster_from_flags_and_tf_config_agree():
  from_flags = cluster.from_flags_or_env(
      ps_hosts='127.0.0.1:1', worker_hosts='127.0.0.1:2,127.0.0.1:3',
      job_name='worker', task=1, environ={})
  from_env = cluster.from_flags_or_env(environ={'TF_CONFIG': (
      '{"cluster": {"ps": ["127.0.0.1:1"], "chief": ["127.0.0.1:2"], '
      '"worker": ["127.0.0.1:3"]}, "task": {"type": "worker", "index": 0}}')})
  assert from_flags == from_env
  assert not from_flags.is_chief and from_flags.num_workers == 2
  assert cluster.from_flags_or_env(environ={}).is_distributed is False
  with pytest.raises(cluster.ClusterConfigError, match='out of range'):
    cluster.from_flags('127.0.0.1:1', '127.0.0.1:2', 'ps', 1)
