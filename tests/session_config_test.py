"""nets.session_config: thread defaults sized to this process's CPUs."""
import os

import pytest

from nets import session_config
from nets.tf_compat import tf, v1


def test_defaults_use_every_available_cpu_and_one_inter_op_thread():
  config = session_config.session_config()
  assert config.intra_op_parallelism_threads == len(os.sched_getaffinity(0))
  assert config.inter_op_parallelism_threads == 1


def test_available_cpus_respects_the_affinity_mask():
  assert 1 <= session_config.available_cpus() <= len(os.sched_getaffinity(0))


def test_explicit_counts_and_other_fields_pass_through():
  config = session_config.session_config(intra_op_threads=3,
                                         inter_op_threads=2,
                                         allow_soft_placement=True)
  assert (config.intra_op_parallelism_threads,
          config.inter_op_parallelism_threads) == (3, 2)
  assert config.allow_soft_placement


def test_negative_counts_are_rejected():
  with pytest.raises(ValueError, match='inter_op_threads must be >= 0'):
    session_config.session_config(inter_op_threads=-1)


def test_a_session_runs_with_the_config():
  with tf.Graph().as_default():
    total = tf.reduce_sum(tf.ones([4, 4]))
    with v1.Session(config=session_config.session_config()) as sess:
      assert sess.run(total) == 16.0
