"""The small CNN (simple_cnn) in the three styles: names, shapes, values,
training.

conv3x3 -> max-pool 2 -> ReLU -> conv3x3/2 -> ReLU -> flatten -> dense.
"""
import numpy as np
import pytest

from runtime.tf_compat import slim, tf
from checkpointing import checkpoints
from nets import simple_cnn
from tests import resnet_testlib as lib

v1 = tf.compat.v1

BATCH, SIZE, CLASSES = 8, 32, 10
STEPS = 30

EXPECTED_VARIABLES = [
    ('simple_cnn/conv1/biases', (32,)),
    ('simple_cnn/conv1/weights', (3, 3, 3, 32)),
    ('simple_cnn/conv2/biases', (64,)),
    ('simple_cnn/conv2/weights', (3, 3, 32, 64)),
    ('simple_cnn/logits/biases', (CLASSES,)),
    ('simple_cnn/logits/weights', (8 * 8 * 64, CLASSES)),
]
EXPECTED_END_POINTS = {
    'simple_cnn/conv1': [BATCH, 32, 32, 32],
    'simple_cnn/conv2': [BATCH, 8, 8, 64],
    'simple_cnn/logits': [BATCH, CLASSES],
    'predictions': [BATCH, CLASSES],
}


@pytest.fixture(scope='module')
def networks(tmp_path_factory):
  """Each style: built once, given the slim graph's checkpoint, then trained."""
  rng = np.random.RandomState(0)
  images = rng.uniform(-1, 1, [BATCH, SIZE, SIZE, 3]).astype(np.float32)
  labels = np.arange(BATCH) % CLASSES
  checkpoint = None
  results = {}
  for style in lib.STYLES:
    result = {}
    graph = tf.Graph()
    with graph.as_default():
      inputs = tf.constant(images)
      with slim.arg_scope(simple_cnn.simple_cnn_arg_scope(
          weight_decay=1e-4, style=style)):
        logits, end_points = simple_cnn.simple_cnn(inputs, CLASSES)
      loss = v1.losses.sparse_softmax_cross_entropy(labels, logits)
      loss += tf.add_n(v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES))
      train_op = v1.train.AdamOptimizer(1e-3).minimize(loss)
      model_variables = v1.model_variables()
      result['raw_names'] = sorted(v.op.name for v in model_variables)
      result['summary'] = lib.graph_summary(graph)
      result['end_point_shapes'] = {k: v.shape.as_list()
                                    for k, v in end_points.items()}
      with v1.Session() as session:
        session.run(v1.global_variables_initializer())
        if checkpoint is None:
          checkpoint = lib.save_slim_checkpoint(
              session, model_variables,
              str(tmp_path_factory.mktemp('simple_cnn') / 'model'))
        else:
          lib.restore_exactly(session, checkpoint, model_variables)
        result['logits'], result['end_points'] = session.run(
            [logits, end_points])
        losses = [session.run([loss, train_op])[0] for _ in range(STEPS)]
        result['losses'] = losses + [session.run(loss)]
    results[style] = result
  return results


@pytest.mark.parametrize('style', lib.STYLES)
def test_variables_and_end_points(networks, style):
  result = networks[style]
  assert result['summary']['model'] == EXPECTED_VARIABLES
  assert result['summary']['trainable'] == EXPECTED_VARIABLES
  assert result['summary']['regularization_losses'] == 3
  assert result['summary']['update_ops'] == 0
  assert result['end_point_shapes'] == EXPECTED_END_POINTS
  if style == 'keras':
    assert result['raw_names'] != [n for n, _ in EXPECTED_VARIABLES]
    assert sorted(map(checkpoints.keras_to_slim_name, result['raw_names'])
                  ) == [n for n, _ in EXPECTED_VARIABLES]
  else:
    assert result['raw_names'] == [n for n, _ in EXPECTED_VARIABLES]


@pytest.mark.parametrize('style', lib.STYLES)
def test_activations_where_the_design_puts_them(networks, style):
  """conv1 is linear (ReLU comes after the pool); conv2 has a ReLU."""
  end_points = networks[style]['end_points']
  assert end_points['simple_cnn/conv1'].min() < 0
  assert end_points['simple_cnn/conv2'].min() == 0
  assert end_points['simple_cnn/logits'].min() < 0


@pytest.mark.parametrize('style', ['raw', 'keras'])
def test_same_logits_from_one_checkpoint(networks, style):
  assert lib.relative_difference(networks[style]['logits'],
                                 networks['slim']['logits']) <= 1e-5


@pytest.mark.parametrize('style', lib.STYLES)
def test_trains(networks, style):
  losses = networks[style]['losses']
  assert np.isfinite(losses).all()
  assert losses[-1] < 0.5 * losses[0], losses
  # Same start, same optimiser: the styles follow the same path.
  np.testing.assert_allclose(losses, networks['slim']['losses'], rtol=1e-4)
