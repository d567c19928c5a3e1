"""runtime.session_config: thread defaults and the CPU allocator choice."""
import os
import subprocess
import sys

import pytest

from runtime import session_config
from runtime.tf_compat import tf, v1


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


def test_use_cpu_allocator_sets_the_environment(monkeypatch):
  monkeypatch.delenv(session_config.BFC_ENV_VAR, raising=False)
  assert session_config.use_cpu_allocator('bfc') == 'bfc'
  assert os.environ[session_config.BFC_ENV_VAR] == 'true'


def test_an_allocator_chosen_in_the_environment_wins(monkeypatch):
  monkeypatch.setenv(session_config.BFC_ENV_VAR, 'false')
  assert session_config.use_cpu_allocator('bfc') == 'system'
  assert session_config.cpu_allocator() == 'system'


def test_unknown_allocator_lists_the_valid_ones():
  with pytest.raises(ValueError, match="valid allocators: bfc, system"):
    session_config.use_cpu_allocator('tcmalloc')


_FAULTS_SCRIPT = '''
import resource
import numpy as np
from runtime import session_config
from runtime.tf_compat import tf, v1
session_config.use_cpu_allocator('bfc')  # After the imports, before sessions.
with tf.Graph().as_default():
  x = v1.get_variable('x', initializer=np.ones([8, 56, 56, 256], np.float32))
  y = tf.nn.relu(tf.identity(x))  # A fresh 25 MB output every run.
  with v1.Session() as session:
    session.run(v1.global_variables_initializer())
    for _ in range(3):
      session.run(y.op)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
      session.run(y.op)
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
'''


@pytest.mark.slow
def test_bfc_allocator_stops_per_step_page_faults():
  """With the BFC pool a 25 MB op's output is not faulted in on every run.

  (With TF's default allocator the same run costs ~6,300 minor faults, one
  per 4 KB page, measured on the project's machine.)
  """
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ, PYTHONPATH=root)
  env.pop(session_config.BFC_ENV_VAR, None)
  proc = subprocess.run([sys.executable, '-c', _FAULTS_SCRIPT], cwd=root,
                        env=env, capture_output=True, text=True, timeout=300,
                        check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert float(proc.stdout.strip().splitlines()[-1]) < 500


def test_evaluation_sessions_get_the_machine_defaults_and_overrides():
  """The eval script's sessions: intra = CPUs, inter = 1, unless flagged."""
  from evaluation import evaluator  # pylint: disable=g-import-not-at-top
  from modeling import model_builder  # pylint: disable=g-import-not-at-top
  fields = dict(checkpoint_path='/tmp/ckpt', eval_dir='/tmp/eval',
                dataset_name='digits', dataset_dir='/tmp/digits',
                model=model_builder.ModelConfig('simple_cnn'))
  config = evaluator.EvalConfig(**fields).session_config()
  assert (config.intra_op_parallelism_threads,
          config.inter_op_parallelism_threads) == (
              session_config.available_cpus(), 1)
  config = evaluator.EvalConfig(intra_op_parallelism_threads=1,
                                inter_op_parallelism_threads=2,
                                **fields).session_config()
  assert (config.intra_op_parallelism_threads,
          config.inter_op_parallelism_threads) == (1, 2)


def test_training_sessions_get_the_same_defaults_and_overrides():
  """The trainer's sessions take their thread counts from the one function."""
  from training import config as config_lib  # pylint: disable=g-import-not-at-top
  from training import loop  # pylint: disable=g-import-not-at-top
  proto = loop.session_config(config_lib.TrainConfig())
  assert (proto.intra_op_parallelism_threads,
          proto.inter_op_parallelism_threads) == session_config.thread_counts()
  assert proto.allow_soft_placement
  proto = loop.session_config(config_lib.TrainConfig(
      intra_op_parallelism_threads=1, inter_op_parallelism_threads=2),
                              device_filters=['/job:ps'])
  assert (proto.intra_op_parallelism_threads,
          proto.inter_op_parallelism_threads) == (1, 2)
  assert list(proto.device_filters) == ['/job:ps']
