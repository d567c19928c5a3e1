"""Smoke test for the Bazel py_test setup: the shim imports and a tiny graph runs."""
import numpy as np

from runtime.tf_compat import slim, tf, v1


def test_graph_mode_matmul_computes_the_right_value():
  with tf.Graph().as_default():
    a = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    b = tf.constant([[5.0], [6.0]])
    product = tf.matmul(a, b) + 1.0
    with v1.Session() as sess:
      np.testing.assert_allclose(sess.run(product), [[18.0], [40.0]])


def test_slim_conv2d_builds_named_variables():
  with tf.Graph().as_default():
    images = tf.zeros([2, 8, 8, 3])
    net = slim.conv2d(images, 4, [3, 3], scope='conv1')
    assert net.shape.as_list() == [2, 8, 8, 4]
    names = sorted(v.op.name for v in slim.get_model_variables())
    assert names == ['conv1/biases', 'conv1/weights']
