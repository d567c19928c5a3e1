"""The checkpoint-directory resolver and the saver that stays in its
directory, in process with real checkpoints (the CLI cases are in
checkpoint_dir_cli_test.py)."""
import os

import pytest

from checkpointing import checkpoints
from runtime.tf_compat import tf, v1
from training import config as config_lib
from training import errors
from training import loop


def _save(directory, steps, saver_cls=None, max_to_keep=5):
  """Saves one variable at each of `steps` into `directory`; returns the
  saver (its graph is gone, its bookkeeping is not)."""
  with tf.Graph().as_default():
    variable = v1.get_variable('w', initializer=[1.0, 2.0])
    if saver_cls is None:
      saver = v1.train.Saver([variable], max_to_keep=max_to_keep)
    else:
      saver = saver_cls(directory, [variable], max_to_keep=max_to_keep)
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      for step in steps:
        saver.save(session, os.path.join(directory, 'model.ckpt'),
                   global_step=step, write_meta_graph=False)
  return saver


def _write_state(directory, latest, paths):
  with open(os.path.join(directory, 'checkpoint'), 'w') as f:
    f.write('model_checkpoint_path: "%s"\n' % latest)
    for path in paths:
      f.write('all_model_checkpoint_paths: "%s"\n' % path)


def test_entries_naming_another_directory_resolve_inside_or_not_at_all(
    tmp_path):
  mine, other = str(tmp_path / 'mine'), str(tmp_path / 'other')
  _save(other, [1, 2, 3])
  _save(mine, [1, 2])
  # A relative path that climbs out, an absolute one, and one only the other
  # directory has.
  _write_state(mine, '../other/model.ckpt-3',
               ['%s/model.ckpt-1' % other, '../other/model.ckpt-2',
                '../other/model.ckpt-3'])
  state = checkpoints.directory_state(mine)
  assert state.latest == os.path.join(mine, 'model.ckpt-2')
  assert state.all_paths == [os.path.join(mine, 'model.ckpt-1'),
                             os.path.join(mine, 'model.ckpt-2')]
  assert [os.path.basename(u) for _, u in state.relocated] == [
      'model.ckpt-1', 'model.ckpt-2']
  assert state.missing == [os.path.join(mine, '../other/model.ckpt-3')]
  assert not state.clean
  assert len(state.notes()) == 2

  checkpoints.write_directory_state(state)
  with open(os.path.join(mine, 'checkpoint')) as f:
    assert f.read().split('\n')[0] == 'model_checkpoint_path: "model.ckpt-2"'
  again = checkpoints.directory_state(mine)
  assert again.clean and again.latest == state.latest
  assert checkpoints.directory_state(str(tmp_path / 'none')).latest is None


def test_directory_saver_never_cleans_up_another_directory(tmp_path):
  mine, other = str(tmp_path / 'mine'), str(tmp_path / 'other')
  _save(other, [1, 2])
  before = sorted(os.listdir(other))
  saver = _save(mine, [], saver_cls=loop.DirectorySaver, max_to_keep=1)
  # What the session manager does on restore with a state file naming the
  # other directory.
  saver.recover_last_checkpoints([os.path.join(other, 'model.ckpt-1'),
                                  os.path.join(other, 'model.ckpt-2')])
  assert saver.last_checkpoints == []
  with tf.Graph().as_default():
    variable = v1.get_variable('w', initializer=[1.0, 2.0])
    saver = loop.DirectorySaver(mine, [variable], max_to_keep=1)
    saver.recover_last_checkpoints([os.path.join(other, 'model.ckpt-2')])
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      for step in (3, 4):
        saver.save(session, os.path.join(mine, 'model.ckpt'),
                   global_step=step, write_meta_graph=False)
  assert sorted(os.listdir(other)) == before
  assert checkpoints.directory_state(mine).all_paths == [
      os.path.join(mine, 'model.ckpt-4')]
  with open(os.path.join(mine, 'checkpoint')) as f:
    assert '"model.ckpt-4"' in f.read()  # Relative to the directory.


def test_a_missing_block_suggests_ignore_missing_vars(tmp_path):
  prefix = str(tmp_path / 'model.ckpt')
  with tf.Graph().as_default():
    kept = v1.get_variable('net/conv1/weights', initializer=[1.0])
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      v1.train.Saver([kept]).save(session, prefix, write_meta_graph=False)
  with tf.Graph().as_default():
    variables = [v1.get_variable('net/conv1/weights', initializer=[1.0]),
                 v1.get_variable('net/extra/fc/weights', initializer=[1.0]),
                 v1.get_variable('net/extra/fc/biases', initializer=[1.0])]
    with pytest.raises(checkpoints.CheckpointMismatchError) as raised:
      checkpoints.plan_restore(prefix, variables, suggest_flags=True)
    assert ('(to fix it, pass --checkpoint_exclude_scopes=net/extra/fc, or '
            '--ignore_missing_vars to leave the missing variables freshly '
            'initialised)') in str(raised.value)
    with pytest.raises(checkpoints.CheckpointMismatchError) as raised:
      checkpoints.plan_restore(prefix, variables)  # Library use: no flags.
    assert '--ignore' not in str(raised.value)


def test_train_dir_that_is_a_file_or_under_one(tmp_path):
  path = tmp_path / 'file'
  path.write_text('x')
  for train_dir in (path, path / 'run'):
    with pytest.raises(errors.ConfigError, match='is a file, not a directory'):
      config_lib.check_writable_dir('--train_dir', str(train_dir))
  config_lib.check_writable_dir('--train_dir', str(tmp_path / 'new' / 'run'))
  assert not (tmp_path / 'new').exists()  # Checked, not created.
  config_lib.check_writable_dir('--train_dir', str(tmp_path))
  assert sorted(os.listdir(tmp_path)) == ['file']  # The probe is gone.
