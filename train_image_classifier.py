r"""Trains an image classifier with Slim's flags on current TensorFlow.

Usage (the README's demo, on the embedded digits dataset; `make demo`):

  python download_and_convert_data.py --dataset_name=digits \
      --dataset_dir=/tmp/digits
  python train_image_classifier.py --dataset_name=digits \
      --dataset_dir=/tmp/digits --train_dir=/tmp/digits_train \
      --model_name=se_resnet_v1_14 --depth_multiplier=0.25 \
      --train_image_size=32 --batch_norm_decay=0.9 --optimizer=momentum \
      --learning_rate=0.05 --learning_rate_decay_type=polynomial \
      --num_epochs_per_decay=22.3 --end_learning_rate=0.0005 \
      --weight_decay=0.0001 --batch_size=64 --max_number_of_steps=500
  python eval_image_classifier.py --checkpoint_path=/tmp/digits_train \
      --eval_dir=/tmp/digits_eval --dataset_name=digits \
      --dataset_dir=/tmp/digits --model_name=se_resnet_v1_14 \
      --depth_multiplier=0.25 --eval_image_size=32

Fine-tuning SE-ResNet-50 from Slim's resnet_v1_50.ckpt (new logits, SE
blocks fresh with gates starting near 1, the rest frozen):

  python train_image_classifier.py --dataset_name=flowers \
      --dataset_dir=/tmp/flowers --train_dir=/tmp/flowers_train \
      --model_name=se_resnet_v1_50 --checkpoint_path=resnet_v1_50.ckpt \
      --checkpoint_model_scope=resnet_v1_50 --se_fc2_bias_init=5.0 \
      --checkpoint_exclude_scopes=se_resnet_v1_50/logits \
      --trainable_scopes=se_resnet_v1_50/logits,se_resnet_v1_50/*/se

A second run with the same --train_dir resumes from its latest checkpoint;
SIGTERM stops a run after its current step, with a final checkpoint (at
once if no step runs yet, e.g. while waiting for a parameter server).

Several clones on one machine: --num_clones=2 (--clone_on_cpu). A cluster
(parameter servers and workers, TensorFlow's gRPC runtime): the same command
on every host with --ps_hosts=h:p,.. --worker_hosts=h:p,.. --job_name=ps or
worker --task=i (or TF_CONFIG), optionally --sync_replicas; to try it on
this machine: python -m deployment.launch_local --num_ps=1 --num_workers=2
-- <the flags above>.
Exit status: 0 on success, 2 for a bad flag (reported before TensorFlow
loads), 1 when the data or a checkpoint does not fit or the loss diverges
(one "error:" line each). A bad record (a truncated file, an undecodable
image, a label out of range) is named by file and index; --skip_bad_records
leaves such records out instead, with a count in the log.
"""
import dataclasses
import sys

from absl import app
from absl import flags
from absl import logging

from modeling import model_flags
from runtime import script_util
from training import config as config_lib
from training import errors
from training import flags as train_flags

FLAGS = flags.FLAGS
train_flags.define_flags(FLAGS)


def _fail(error, status):
  return script_util.fail(error, status)


def _train(config):
  """Trains; returns (plan, result). TensorFlow loads here."""
  # pylint: disable=g-import-not-at-top
  from datasets import record_scan
  from runtime.tf_compat import tf, v1
  from training import distributed
  from training import hooks
  from training import shutdown
  # pylint: enable=g-import-not-at-top
  v1.disable_v2_behavior()
  plan = distributed.plan(config)
  stop_hooks = []
  if plan.cluster.job_name == 'worker':  # A ps just dies on SIGTERM.
    stop, started = shutdown.graceful_sigterm()
    stop_hooks.append(hooks.StopRequestHook(stop, started))
  try:
    return plan, distributed.train(config, the_plan=plan, hooks=stop_hooks)
  except tf.errors.OpError as e:
    # A bad record fails a step deep in TensorFlow; name it if it is one.
    explained = record_scan.explain(config.dataset(), e)
    if explained is None:
      raise
    raise explained from None


def _logits_restored(flag_values):
  """Whether the warm start restores the logits (not excluded)."""
  logits = '%s/logits' % flag_values.model_name
  return not any(logits == scope or logits.startswith(scope + '/')
                 for scope in config_lib.split_scopes(
                     flag_values.checkpoint_exclude_scopes))


def _apply_sidecar():
  """Unset model flags from the sidecar of a converted --checkpoint_path.

  Its labels offset only when the logits are restored: fine-tuned logits
  are about the new dataset's classes. Returns the preprocessing keywords.
  """
  options, messages = model_flags.apply_checkpoint_sidecar(
      FLAGS, FLAGS.checkpoint_path, take_labels_offset=_logits_restored)
  for message in messages:
    logging.info(message)
  options.pop('image_size', None)  # Fine-tuning picks its own size.
  return options


def main(argv):
  if len(argv) > 1:
    return _fail('unexpected arguments: %s' % ' '.join(argv[1:]), 2)
  logging.set_verbosity(logging.INFO)
  try:
    preprocessing_options = _apply_sidecar()
    config = dataclasses.replace(
        train_flags.config_from_flags(FLAGS),
        preprocessing_options=preprocessing_options).validate()
  except (errors.ConfigError, ValueError) as e:
    return _fail(e, 2)
  # pylint: disable=g-import-not-at-top
  from datasets import errors as dataset_errors
  from checkpointing import checkpoints
  # pylint: enable=g-import-not-at-top
  try:
    plan, result = _train(config)
  except (errors.ConfigError, errors.TrainingDivergedError,
          checkpoints.CheckpointMismatchError,
          dataset_errors.DatasetError) as e:
    return _fail(e, 1)
  print('trained %s to step %d in %s: last loss %s, %s images/s, %.0f s' % (
      config.model_name, result.global_step, config.train_dir,
      '%.4f' % result.last_losses[-1] if result.last_losses else 'n/a',
      '%.1f' % result.images_per_sec if result.images_per_sec else 'n/a',
      result.wall_time_secs))
  if plan.cluster.is_distributed:
    print('%s: ran %d steps, global step %d -> %d' % (
        plan.describe(), result.num_steps, result.start_step,
        result.global_step))
  return 0


if __name__ == '__main__':
  app.run(main, flags_parser=script_util.parse_flags)
