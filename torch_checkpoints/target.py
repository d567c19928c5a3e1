"""The variables (Slim names and shapes) the target network has.

Built once, quickly, in its own graph in the raw style (every style has the
same Slim names and shapes; the topology changes neither), so that a converted
checkpoint is checked against the real builder, not against a second
description of the network.

Example:

    shapes = target.variable_shapes('se_resnet_v1_50', 1000,
                                    {'depth_multiplier': 1.0})
    shapes['se_resnet_v1_50/logits/weights']   # [1, 1, 2048, 1000]
"""
import collections

from nets import nets_factory
from nets.checkpoints import keras_to_slim_name
from nets.tf_compat import tf

v1 = tf.compat.v1


def variable_shapes(model_name, num_classes, model_options):
  """{slim name: shape list} of `model_name`'s global variables."""
  network_fn = nets_factory.get_network_fn(
      model_name, num_classes, is_training=False, style='raw',
      **model_options)
  with tf.Graph().as_default():
    network_fn(v1.placeholder(tf.float32, [1, 64, 64, 3]))
    return collections.OrderedDict(
        (keras_to_slim_name(v.name), v.shape.as_list())
        for v in v1.global_variables())


def slim_to_keras_name(name):
  """'a/conv1/weights' -> 'a/conv1/kernel', 'a/fc1/biases' -> 'a/fc1/bias'.

  The inverse of `nets.checkpoints.keras_to_slim_name` (the names of a
  keras-style graph's variables).
  """
  for slim_suffix, keras_suffix in (('/weights', '/kernel'),
                                    ('/biases', '/bias')):
    if name.endswith(slim_suffix):
      return name[:-len(slim_suffix)] + keras_suffix
  return name
