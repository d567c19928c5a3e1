r"""Evaluates a trained image classifier (Slim's flags, plus a watch loop).

Once, on the latest checkpoint of a directory (or one checkpoint file):

  python eval_image_classifier.py --checkpoint_path=/tmp/train \
      --eval_dir=/tmp/eval --dataset_name=digits --dataset_dir=/tmp/digits \
      --model_name=se_resnet_v1_14 --depth_multiplier=0.25 \
      --preprocessing_name=digits --eval_image_size=32

Every new checkpoint as training writes them, stopping after 10 minutes
without one: add --eval_interval_secs=30 --timeout=600.

Prints accuracy, recall@5 and loss; writes TensorBoard summaries and
eval_results.json (latest) / eval_results.jsonl (all) to --eval_dir, and with
--confusion_matrix also confusion_matrix.csv and .png. The default split is
the dataset's validation or test split. A bad flag (an unknown name or
split, a missing flag) prints one `error:` line and exits 2, before
TensorFlow loads; bad input found later (no checkpoint, a file that is not a
checkpoint, a checkpoint of another network, a bad record, a watch that sees
no checkpoint within --timeout) prints one `error:` line and exits 1.
--skip_bad_records leaves bad records out instead (counted in the log). A
directory copied or moved with its checkpoints is read from where it is.
"""
from absl import app
from absl import flags
from absl import logging

from datasets import dataset_factory
from modeling import model_flags
from runtime import script_util

FLAGS = flags.FLAGS

flags.DEFINE_integer('batch_size', 100, 'Examples per batch.')
flags.DEFINE_integer('max_num_batches', None,
                     'Evaluate at most this many batches (default: all).')
flags.DEFINE_string('master', '', 'TensorFlow session target.')
flags.DEFINE_string('checkpoint_path', None,
                    'A checkpoint file prefix, or a directory (its latest '
                    'checkpoint; the directory watched with '
                    '--eval_interval_secs).')
flags.DEFINE_string('eval_dir', None,
                    'Where summaries and results are written.')
flags.DEFINE_integer('num_preprocessing_threads', None,
                     'Parallel decode/preprocess calls (default: autotune).')
flags.DEFINE_string('dataset_name', 'imagenet', 'The dataset to evaluate on.')
flags.DEFINE_string('dataset_split_name', None,
                    'The split; default: the dataset\'s validation or test '
                    'split.')
flags.DEFINE_string('dataset_dir', None, 'The directory with the TFRecords.')
flags.DEFINE_float('moving_average_decay', None,
                   'If set, evaluate the moving averages of the weights.')
flags.DEFINE_integer('eval_image_size', None,
                     'Input size (default: the network\'s).')
flags.DEFINE_float('eval_interval_secs', None,
                   'If set, watch --checkpoint_path (a directory) and '
                   'evaluate each new checkpoint, at most once per this '
                   'many seconds.')
flags.DEFINE_float('timeout', None,
                   'With --eval_interval_secs: stop after this many seconds '
                   'without a new checkpoint (default: never).')
flags.DEFINE_integer('max_number_of_evaluations', None,
                     'With --eval_interval_secs: stop after this many '
                     'evaluations.')
flags.DEFINE_integer('intra_op_parallelism_threads', None,
                     'Threads per op (default: the CPUs this process may '
                     'use).')
flags.DEFINE_integer('inter_op_parallelism_threads', None,
                     'Ops run in parallel (default 1; TensorFlow\'s own '
                     'default, one per core, halved ResNet-50 throughput on '
                     '2 cores).')
flags.DEFINE_bool('confusion_matrix', False,
                  'Also write the confusion matrix as CSV and PNG.')
flags.DEFINE_bool('skip_bad_records', False,
                  'Check every record once before evaluating and leave the '
                  'bad ones out (truncated files, undecodable images, '
                  'labels out of range), with a count in the log; default: '
                  'a bad record is an error naming its file and index.')
model_flags.define_model_flags()
flags.mark_flags_as_required(['checkpoint_path', 'eval_dir', 'dataset_dir'])


def check_flags():
  """Checks the names and the split without TensorFlow (ValueError)."""
  model_flags.model_config_from_flags_and_sidecar(
      FLAGS, FLAGS.checkpoint_path, image_size=FLAGS.eval_image_size,
      log=lambda message: None)
  info = dataset_factory.get_info(FLAGS.dataset_name)
  if FLAGS.dataset_split_name is not None:
    info.get_split(FLAGS.dataset_split_name, FLAGS.dataset_dir)


def eval_config_from_flags():
  from evaluation import evaluator  # pylint: disable=g-import-not-at-top
  return evaluator.EvalConfig(
      checkpoint_path=FLAGS.checkpoint_path,
      eval_dir=FLAGS.eval_dir,
      dataset_name=FLAGS.dataset_name,
      dataset_dir=FLAGS.dataset_dir,
      model=model_flags.model_config_from_flags_and_sidecar(
          FLAGS, FLAGS.checkpoint_path, image_size=FLAGS.eval_image_size,
          log=logging.info),
      dataset_split_name=FLAGS.dataset_split_name,
      batch_size=FLAGS.batch_size,
      max_num_batches=FLAGS.max_num_batches,
      moving_average_decay=FLAGS.moving_average_decay,
      confusion_matrix=FLAGS.confusion_matrix,
      num_preprocessing_threads=FLAGS.num_preprocessing_threads,
      master=FLAGS.master,
      intra_op_parallelism_threads=FLAGS.intra_op_parallelism_threads,
      inter_op_parallelism_threads=FLAGS.inter_op_parallelism_threads,
      skip_bad_records=FLAGS.skip_bad_records)


def _print(result):
  metrics = {k: float('nan') if v is None else v
             for k, v in result['metrics'].items()}
  # A converted checkpoint has no global step: the line then starts at the
  # accuracy instead of saying 'step None'.
  step = result['global_step']
  print('%saccuracy %.4f recall@5 %.4f loss %.4f on %d examples of '
        '%s/%s (%s)' % ('' if step is None else 'step %s: ' % step,
                        metrics['accuracy'],
                        metrics['recall_at_5'], metrics['loss'],
                        result['num_examples'], result['dataset']['name'],
                        result['dataset']['split'],
                        result['checkpoint_path']), flush=True)


def _evaluate(config):
  from evaluation import evaluator  # pylint: disable=g-import-not-at-top
  if FLAGS.eval_interval_secs is None:
    _print(evaluator.evaluate_once(config))
    return
  evaluator.evaluation_loop(
      config, FLAGS.eval_interval_secs, timeout=FLAGS.timeout,
      max_number_of_evaluations=FLAGS.max_number_of_evaluations,
      callback=_print)


def _run():
  # pylint: disable=g-import-not-at-top
  from datasets import record_scan
  from evaluation import evaluator
  from runtime.tf_compat import tf
  # pylint: enable=g-import-not-at-top
  config = eval_config_from_flags()
  try:
    _evaluate(config)
  except (tf.errors.OpError, evaluator.LabelRangeError) as e:
    # A bad record fails the run deep in TensorFlow; name it if it is one.
    split = (config.dataset_split_name or
             evaluator.default_split(config.dataset_name))
    explained = record_scan.explain(dataset_factory.get_dataset(
        config.dataset_name, split, config.dataset_dir), e)
    if explained is None:
      raise
    raise explained from None


def main(argv):
  return script_util.graph_mode_main(argv, _run, check=check_flags)


if __name__ == '__main__':
  app.run(main, flags_parser=script_util.parse_flags)
