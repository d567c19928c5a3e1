"""The small CNN used by fast tests and quick experiments.

conv 3x3 -> max-pool 2 -> ReLU -> conv 3x3 / 2 -> ReLU -> flatten -> dense,
written over the layer vocabulary like every other network here.

Example:

    with slim.arg_scope(simple_cnn.simple_cnn_arg_scope(style='keras')):
      logits, end_points = simple_cnn.simple_cnn(images, num_classes=10)
"""
from nets import layers
from runtime.tf_compat import slim, tf

v1 = tf.compat.v1


def simple_cnn(inputs, num_classes=10, is_training=False, depth=32,
               reuse=None, scope='simple_cnn'):
  """Builds the small CNN.

  Args:
    inputs: [batch, height, width, channels] images with a static size.
    num_classes: number of logits.
    is_training: unused (no batch norm); kept for the factory's signature.
    depth: channels of the first conv; the second has twice as many.
    reuse: reuse variables of an earlier call with the same scope.
    scope: variable scope.

  Returns:
    (logits [batch, num_classes], end_points)
  """
  del is_training  # The network has no batch norm or dropout.
  with v1.variable_scope(scope, 'simple_cnn', [inputs], reuse=reuse) as sc:
    collection = sc.original_name_scope + '_end_points'
    with slim.arg_scope([layers.conv2d], outputs_collections=collection,
                        normalizer_fn=None):
      net = layers.conv2d(inputs, depth, [3, 3], activation_fn=None,
                          scope='conv1')
      net = layers.max_pool2d(net, [2, 2], stride=2, padding='VALID',
                              scope='pool1')
      net = tf.nn.relu(net)
      net = layers.conv2d(net, 2 * depth, [3, 3], stride=2, scope='conv2')
      net = layers.flatten(net, scope='flatten')
      logits = layers.fully_connected(net, num_classes, activation_fn=None,
                                      scope='logits')
    end_points = slim.utils.convert_collection_to_dict(collection)
    end_points[sc.name + '/logits'] = logits
    end_points['predictions'] = tf.nn.softmax(logits, name='predictions')
    return logits, end_points


simple_cnn.default_image_size = 32


def simple_cnn_arg_scope(weight_decay=0.0, style=layers.DEFAULT_STYLE,
                         **unused_options):
  """The small CNN's arg scope: no batch norm, L2 `weight_decay`."""
  return layers.arg_scope(style=style, weight_decay=weight_decay,
                          use_batch_norm=False)
