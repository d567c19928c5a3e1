"""Evaluates checkpoints of an image classifier on a dataset split.

Every example of the split is counted exactly once: the input is one
deterministic epoch, the last partial batch included, read until the
iterator is exhausted (`max_num_batches` may stop earlier; the result then
says `complete: false`). Metrics are summed in Python over the batches:

* `accuracy`: top-1 (argmax of the logits equals the label);
* `recall_at_5`: the label is among the 5 largest logits (all classes when
  there are fewer than 5; ties at the boundary count as in);
* `loss`: mean softmax cross-entropy.

Results go to the log, to TensorBoard summaries in `eval_dir` (`eval/Accuracy`,
`eval/Recall_5`, `eval/Loss`, at the checkpoint's global step), to
`eval_dir/eval_results.json` (the latest) and one line per evaluation to
`eval_dir/eval_results.jsonl`, and optionally to a confusion matrix
(`confusion_matrix.csv` / `.png`).

    config = EvalConfig(checkpoint_path='/tmp/train', eval_dir='/tmp/eval',
                        dataset_name='digits', dataset_dir='/tmp/digits',
                        model=model_builder.ModelConfig('simple_cnn'))
    result = evaluate_once(config)
    result['metrics']['accuracy'], result['num_examples']
    evaluation_loop(config, eval_interval_secs=60, timeout=600)
"""
import dataclasses
import json
import os
import time
from typing import Optional

from absl import logging
import numpy as np

from datasets import dataset_factory
from evaluation import confusion
from modeling import model_builder
from evaluation import restoring
from checkpointing import checkpoints
from runtime import session_config as session_config_lib
from runtime.tf_compat import tf

v1 = tf.compat.v1

RESULTS_FILE = 'eval_results.json'
HISTORY_FILE = 'eval_results.jsonl'
CONFUSION_CSV = 'confusion_matrix.csv'
CONFUSION_PNG = 'confusion_matrix.png'
TOP_K = 5
# Splits tried, in order, when none is given.
EVAL_SPLIT_PREFERENCE = ('validation', 'test')


class EvaluationError(ValueError):
  """The evaluation cannot run as asked; the message says why."""


class LabelRangeError(EvaluationError):
  """A label of the data is outside the network's classes."""


@dataclasses.dataclass(frozen=True)
class EvalConfig:
  """What to evaluate, on what, and where the results go.

  Attributes:
    checkpoint_path: a checkpoint prefix, or a directory (its latest; the
      directory to watch in `evaluation_loop`).
    eval_dir: where summaries, JSON results and the confusion matrix go.
    dataset_name: a name of `dataset_factory.DATASET_NAMES`.
    dataset_dir: the directory with the TFRecords.
    model: a `model_builder.ModelConfig` (image_size = eval image size).
    dataset_split_name: None picks the dataset's evaluation split
      (`default_split`).
    batch_size: examples per batch; need not divide the split.
    max_num_batches: evaluate at most this many batches (None: all).
    moving_average_decay: if set, evaluate the moving averages (EMA shadow
      variables) of the weights; the value itself is not needed to restore
      them and is only recorded.
    confusion_matrix: also write the confusion matrix as CSV and PNG.
    num_preprocessing_threads: parallel decode/preprocess calls (None:
      autotune).
    master: TensorFlow session target ('' = in process).
    intra_op_parallelism_threads: threads inside one op (None or 0: the
      CPUs this process may use, `runtime.session_config`).
    inter_op_parallelism_threads: ops run concurrently (None or 0: 1;
      TensorFlow's own default, one per core, halved ResNet-50 throughput on
      2 cores).
    skip_bad_records: check every record first and leave the bad ones out
      (counted in the log); default: a bad record fails the evaluation.
  """
  checkpoint_path: str
  eval_dir: str
  dataset_name: str
  dataset_dir: str
  model: model_builder.ModelConfig
  dataset_split_name: Optional[str] = None
  batch_size: int = 100
  max_num_batches: Optional[int] = None
  moving_average_decay: Optional[float] = None
  confusion_matrix: bool = False
  num_preprocessing_threads: Optional[int] = None
  master: str = ''
  intra_op_parallelism_threads: Optional[int] = None
  inter_op_parallelism_threads: Optional[int] = None
  skip_bad_records: bool = False

  def session_config(self):
    """The session's `ConfigProto`: explicit thread settings."""
    return session_config_lib.session_config(
        self.intra_op_parallelism_threads,
        self.inter_op_parallelism_threads)


def default_split(dataset_name):
  """The evaluation split of a dataset: 'validation' or 'test', whichever
  it has (Slim defaulted to 'test', which flowers and imagenet lack)."""
  splits = dataset_factory.get_info(dataset_name).split_names
  for split in EVAL_SPLIT_PREFERENCE:
    if split in splits:
      return split
  raise EvaluationError('dataset %s has no validation or test split (%s); '
                        'pass --dataset_split_name' % (dataset_name,
                                                       ', '.join(splits)))


class _Totals:
  """Running sums over batches."""

  def __init__(self, num_classes, with_confusion):
    self.examples = 0
    self.batches = 0
    self.correct = 0
    self.in_top_k = 0
    self.loss_sum = 0.0
    self.matrix = (np.zeros([num_classes, num_classes], np.int64)
                   if with_confusion else None)

  def add(self, labels, predictions, in_top_k, losses):
    self.examples += len(labels)
    self.batches += 1
    self.correct += int(np.sum(predictions == labels))
    self.in_top_k += int(np.sum(in_top_k))
    self.loss_sum += float(np.sum(losses, dtype=np.float64))
    if self.matrix is not None:
      confusion.add(self.matrix, labels, predictions)

  def metrics(self):
    if not self.examples:
      return {'accuracy': None, 'recall_at_5': None, 'loss': None}
    return {'accuracy': self.correct / self.examples,
            'recall_at_5': self.in_top_k / self.examples,
            'loss': self.loss_sum / self.examples}


class Evaluator:
  """Builds the evaluation graph once; evaluates any number of checkpoints.

  Example:
    evaluator = Evaluator(config)
    result = evaluator.evaluate('/tmp/train/model.ckpt-100')
    evaluator.close()
  """

  def __init__(self, config):
    if config.batch_size < 1:
      raise EvaluationError('batch_size must be >= 1, got %d' %
                            config.batch_size)
    if config.max_num_batches is not None and config.max_num_batches < 1:
      raise EvaluationError('max_num_batches must be >= 1, got %d' %
                            config.max_num_batches)
    self.config = config
    self.split_name = (config.dataset_split_name or
                       default_split(config.dataset_name))
    self.dataset = dataset_factory.get_dataset(
        config.dataset_name, self.split_name, config.dataset_dir,
        skip_bad_records=config.skip_bad_records)
    self.graph = tf.Graph()
    with self.graph.as_default():
      pipeline_kwargs = {}
      if config.num_preprocessing_threads:
        pipeline_kwargs['num_parallel_calls'] = config.num_preprocessing_threads
      self.model = model_builder.build_classifier(
          config.model, self.dataset, config.batch_size, is_training=False,
          initializable=True, **pipeline_kwargs)
      self.num_classes = self.model.num_classes
      self._fetches = self._build_metrics(self.model)
      self.variables = restoring.model_variables(config.model.model_scope)
      tf.io.gfile.makedirs(config.eval_dir)
      self._writer = v1.summary.FileWriter(config.eval_dir)
    self._savers = {}

  def _build_metrics(self, model):
    labels = model.labels
    # Out-of-range labels are reported from Python (see _check_labels);
    # clipping keeps the ops from failing first with a less clear message.
    safe = tf.clip_by_value(labels, 0, self.num_classes - 1)
    k = min(TOP_K, self.num_classes)
    return {
        'labels': labels,
        'predictions': tf.argmax(model.logits, 1),
        'in_top_k': tf.math.in_top_k(targets=safe, predictions=model.logits,
                                     k=k),
        'losses': tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=safe, logits=model.logits),
    }

  def _check_labels(self, labels):
    bad = labels[(labels < 0) | (labels >= self.num_classes)]
    if bad.size:
      offset = self.config.model.labels_offset
      raise LabelRangeError(
          'label %d of %s/%s becomes %d with labels_offset=%d, outside the '
          "network's classes [0, %d)" % (
              bad[0] + offset, self.dataset.name, self.split_name, bad[0],
              offset, self.num_classes))

  def _saver(self, planned):
    key = tuple(sorted(planned.var_map))
    if key not in self._savers:
      with self.graph.as_default():
        self._savers[key] = restoring.saver_for(planned)
    return self._savers[key]

  def evaluate(self, checkpoint_path=None):
    """Evaluates one checkpoint (default: `config.checkpoint_path`).

    Returns:
      The result dict also written to `eval_results.json`.

    Raises:
      CheckpointMismatchError: no checkpoint, or one that does not fit.
      EvaluationError: labels out of range.
    """
    config = self.config
    start = time.time()
    planned = restoring.plan(
        checkpoint_path or config.checkpoint_path, self.variables,
        config.model.model_name,
        use_moving_averages=config.moving_average_decay is not None)
    logging.info('%s', planned.summary())
    totals = _Totals(self.num_classes, config.confusion_matrix)
    with self.graph.as_default(), v1.Session(
        config.master, config=config.session_config()) as sess:
      sess.run(self.model.iterator_initializer)
      try:
        self._saver(planned).restore(sess, planned.checkpoint)
      except tf.errors.DataLossError as e:
        raise checkpoints.NotACheckpointError(
            planned.checkpoint, checkpoints.op_error_detail(e)) from None
      while (config.max_num_batches is None or
             totals.batches < config.max_num_batches):
        try:
          out = sess.run(self._fetches)
        except tf.errors.OutOfRangeError:
          break
        self._check_labels(out['labels'])
        totals.add(out['labels'], out['predictions'], out['in_top_k'],
                   out['losses'])
    result = self._result(planned, totals, time.time() - start)
    self._report(result, totals)
    return result

  def _result(self, planned, totals, elapsed):
    config = self.config
    complete = totals.examples == self.dataset.num_samples
    if not complete and config.max_num_batches is None:
      logging.warning('Counted %d examples but %s/%s should have %d',
                      totals.examples, self.dataset.name, self.split_name,
                      self.dataset.num_samples)
    return {
        'checkpoint_path': planned.checkpoint,
        'global_step': planned.step,
        'metrics': totals.metrics(),
        'num_examples': totals.examples,
        'num_batches': totals.batches,
        'complete': complete,
        'dataset': {
            'name': self.dataset.name,
            'split': self.split_name,
            'dataset_dir': self.dataset.dataset_dir,
            'num_samples': self.dataset.num_samples,
        },
        'model_name': config.model.model_name,
        'layer_style': config.model.layer_style,
        'eval_image_size': self.model.image_size,
        'preprocessing_name': model_builder.preprocessing_name(
            config.model, self.dataset.name),
        'labels_offset': config.model.labels_offset,
        'num_classes': self.num_classes,
        'batch_size': config.batch_size,
        'max_num_batches': config.max_num_batches,
        'moving_average_decay': config.moving_average_decay,
        'top_k': min(TOP_K, self.num_classes),
        'confusion_matrix_csv': None,
        'confusion_matrix_png': None,
        'elapsed_secs': round(elapsed, 3),
        'evaluated_at': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
    }

  def _report(self, result, totals):
    metrics = result['metrics']
    logging.info(
        'Evaluated %s (step %s) on %d examples of %s/%s: accuracy %.4f, '
        'recall@5 %.4f, loss %.4f', result['checkpoint_path'],
        result['global_step'], result['num_examples'],
        result['dataset']['name'], result['dataset']['split'],
        *(metrics[k] if metrics[k] is not None else float('nan')
          for k in ('accuracy', 'recall_at_5', 'loss')))
    eval_dir = self.config.eval_dir
    if totals.matrix is not None:
      names = confusion.class_names(self.num_classes,
                                    self.dataset.labels_to_names,
                                    self.config.model.labels_offset)
      result['confusion_matrix_csv'] = os.path.join(eval_dir, CONFUSION_CSV)
      result['confusion_matrix_png'] = os.path.join(eval_dir, CONFUSION_PNG)
      confusion.write_csv(result['confusion_matrix_csv'], totals.matrix, names)
      confusion.write_png(result['confusion_matrix_png'], totals.matrix, names)
    if result['num_examples']:
      self._write_summaries(metrics, result['global_step'] or 0)
    write_json(os.path.join(eval_dir, RESULTS_FILE), result)
    with open(os.path.join(eval_dir, HISTORY_FILE), 'a') as f:
      f.write(json.dumps(result, sort_keys=True) + '\n')

  def _write_summaries(self, metrics, step):
    summary = v1.Summary(value=[
        v1.Summary.Value(tag='eval/Accuracy', simple_value=metrics['accuracy']),
        v1.Summary.Value(tag='eval/Recall_5',
                         simple_value=metrics['recall_at_5']),
        v1.Summary.Value(tag='eval/Loss', simple_value=metrics['loss']),
    ])
    self._writer.add_summary(summary, step)
    self._writer.flush()

  def close(self):
    self._writer.close()

  def __enter__(self):
    return self

  def __exit__(self, *unused_exc):
    self.close()


def write_json(path, data):
  """Writes `data` as JSON, atomically (readers never see half a file)."""
  tmp = path + '.tmp'
  with open(tmp, 'w') as f:
    json.dump(data, f, indent=2, sort_keys=True)
    f.write('\n')
  os.replace(tmp, path)


def evaluate_once(config):
  """Evaluates `config.checkpoint_path` (a prefix, or a directory's latest).

  Returns:
    The result dict (also in `eval_dir/eval_results.json`).

  Example:
    result = evaluate_once(config)
  """
  checkpoints.resolve_checkpoint(config.checkpoint_path)  # Fail fast.
  with Evaluator(config) as evaluator:
    return evaluator.evaluate()


def _watched_directory(path):
  if tf.io.gfile.glob(path + '.index'):
    raise EvaluationError('--eval_interval_secs watches a directory for new '
                          'checkpoints; %s is a checkpoint file (drop '
                          '--eval_interval_secs to evaluate it once)' % path)
  return path


def new_checkpoints(directory, min_interval_secs=0, timeout=None,
                    poll_secs=1.0):
  """Yields each new newest checkpoint of `directory` as it appears.

  Checkpoints are found by `checkpoints.latest_checkpoint` (the state file
  resolved inside `directory`, so a copied or moved train_dir works). At most
  one checkpoint per `min_interval_secs`; returns after `timeout` seconds
  without a new one (None: never).

  Example:
    for checkpoint in new_checkpoints('/tmp/train', 60, timeout=600): ...
  """
  last = None
  while True:
    waited_since = time.time()
    while True:
      latest = checkpoints.latest_checkpoint(directory)
      if latest is not None and latest != last:
        break
      if timeout is not None and time.time() - waited_since > timeout:
        return
      time.sleep(poll_secs)
    started = time.time()
    last = latest
    yield latest
    time.sleep(max(0.0, min_interval_secs - (time.time() - started)))


def evaluation_loop(config, eval_interval_secs, timeout=None,
                    max_number_of_evaluations=None, callback=None):
  """Evaluates each new checkpoint in `config.checkpoint_path` (a directory).

  Waits for checkpoints as training writes them, at most one evaluation
  every `eval_interval_secs`; returns after `timeout` seconds without a new
  checkpoint (None: never) or after `max_number_of_evaluations`.

  Returns:
    The list of result dicts, in order.

  Raises:
    EvaluationError: `timeout` passed and no checkpoint ever appeared.

  Example:
    results = evaluation_loop(config, eval_interval_secs=60, timeout=3600)
  """
  directory = _watched_directory(config.checkpoint_path)
  results = []
  with Evaluator(config) as evaluator:
    logging.info('Watching %s for new checkpoints (at most one evaluation '
                 'per %s s, timeout %s s)', directory, eval_interval_secs,
                 timeout)
    for checkpoint in new_checkpoints(directory, eval_interval_secs, timeout):
      try:
        result = evaluator.evaluate(checkpoint)
      except tf.errors.NotFoundError as e:
        # Training's Saver(max_to_keep) may delete it before we read it.
        logging.warning('Skipping %s, gone before it was read: %s',
                        checkpoint, e.message.splitlines()[0])
        continue
      results.append(result)
      if callback:
        callback(result)
      if (max_number_of_evaluations and
          len(results) >= max_number_of_evaluations):
        break
  if timeout is not None and not results:
    raise EvaluationError(
        'no checkpoint appeared in %s within --timeout=%g s: is training '
        'writing to this directory (its --train_dir)?' % (directory, timeout))
  if timeout is not None:
    logging.info('No new checkpoint in %s for %s s; stopping after %d '
                 'evaluations', directory, timeout, len(results))
  return results
