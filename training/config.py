"""`TrainConfig`: every setting of a training run, checked before any graph.

Field names and defaults are those of Slim's `train_image_classifier.py`
flags (so a Slim command line means the same thing), plus ours: the layer
style, SE and batch-norm options, the checkpoint scope map, step-based
checkpoint intervals, thread counts, a seed, and the cluster's hosts
(`--ps_hosts/--worker_hosts/--job_name`; else TF_CONFIG, see `cluster()`).

    config = TrainConfig(dataset_name='digits', dataset_dir='/tmp/digits',
                         model_name='se_resnet_v1_14', train_dir='/tmp/run',
                         max_number_of_steps=100, optimizer='momentum')
    config.validate()        # raises ConfigError naming the flag
"""
import dataclasses
import errno
import os
import tempfile
from typing import Optional, Tuple

from datasets import dataset_factory
from deployment import cluster as cluster_lib
from modeling import model_config as model_config_lib
from nets import names
from nets import options as options_lib
from preprocessing import names as preprocessing_names
from training import errors
from training import learning_rate as learning_rate_lib
from training import optimizers


@dataclasses.dataclass
class TrainConfig(options_lib.OptionFields):
  """One training run. See `training/flags.py` for each field's help.

  The model options (`depth_multiplier`, `se_ratio`, `topology`, ...) are
  inherited fields, one per row of `nets.options` (None: the builder's
  default).
  """
  # Dataset and model.
  dataset_name: str = 'imagenet'
  dataset_split_name: str = 'train'
  dataset_dir: Optional[str] = None
  labels_offset: int = 0
  model_name: str = 'se_resnet_v1_50'
  preprocessing_name: Optional[str] = None
  batch_size: int = 32
  train_image_size: Optional[int] = None
  max_number_of_steps: Optional[int] = None
  use_grayscale: bool = False
  num_readers: int = 4
  num_preprocessing_threads: int = 4
  skip_bad_records: bool = False
  # Not a flag: the preprocessing keywords of a converted checkpoint's sidecar
  # (`modeling.model_flags.apply_checkpoint_sidecar`).
  preprocessing_options: Optional[dict] = None
  layer_style: str = names.DEFAULT_STYLE
  # Optimization.
  weight_decay: float = 0.00004
  optimizer: str = 'rmsprop'
  adadelta_rho: float = 0.95
  adagrad_initial_accumulator_value: float = 0.1
  adam_beta1: float = 0.9
  adam_beta2: float = 0.999
  opt_epsilon: float = 1.0
  ftrl_learning_rate_power: float = -0.5
  ftrl_initial_accumulator_value: float = 0.1
  ftrl_l1: float = 0.0
  ftrl_l2: float = 0.0
  momentum: float = 0.9
  rmsprop_momentum: float = 0.9
  rmsprop_decay: float = 0.9
  # Learning rate.
  learning_rate: float = 0.01
  learning_rate_decay_type: str = 'exponential'
  learning_rate_decay_factor: float = 0.94
  num_epochs_per_decay: float = 2.0
  end_learning_rate: float = 0.0001
  label_smoothing: float = 0.0
  moving_average_decay: Optional[float] = None
  # Fine-tuning.
  checkpoint_path: Optional[str] = None
  checkpoint_exclude_scopes: Tuple[str, ...] = ()
  trainable_scopes: Tuple[str, ...] = ()
  ignore_missing_vars: bool = False
  checkpoint_model_scope: Optional[str] = None
  update_frozen_batch_norm: bool = False
  # Runtime.
  train_dir: str = '/tmp/tfmodel/'
  log_every_n_steps: int = 10
  save_summaries_secs: int = 600
  save_interval_secs: int = 600
  save_interval_steps: Optional[int] = None
  max_checkpoints_to_keep: int = 5
  divergence_factor: float = 100.0
  summarize_histograms: bool = False
  intra_op_parallelism_threads: Optional[int] = None
  inter_op_parallelism_threads: Optional[int] = None
  random_seed: Optional[int] = None
  # Deployment: clones on this worker, and the cluster (Slim's names plus
  # the cluster's hosts; TF_CONFIG is read when --worker_hosts is empty).
  num_clones: int = 1
  clone_on_cpu: bool = False
  worker_replicas: Optional[int] = None
  num_ps_tasks: Optional[int] = None
  task: int = 0
  sync_replicas: bool = False
  replicas_to_aggregate: Optional[int] = None
  ps_hosts: str = ''
  worker_hosts: str = ''
  job_name: str = 'worker'

  # ---- derived values -----------------------------------------------------

  @property
  def model_scope(self):
    """The variable scope the network builds in (its name)."""
    return self.model_name

  def cluster(self, environ=None):
    """This process's `ClusterConfig`, from the host flags or TF_CONFIG.

    Raises:
      ClusterConfigError: the cluster description is malformed.
    """
    return cluster_lib.from_flags_or_env(
        ps_hosts=self.ps_hosts, worker_hosts=self.worker_hosts,
        job_name=self.job_name, task=self.task, environ=environ)

  def model_options(self):
    """Builder and arg-scope keywords for `nets_factory.get_network_fn`:
    the model options that are set, e.g. {'se_ratio': 8}."""
    return options_lib.from_values({name: getattr(self, name)
                                    for name in options_lib.NAMES})

  def model_config(self):
    """The `model_builder.ModelConfig` evaluation and export share.

    Call after `validate()` (it checks the names again, less kindly).
    """
    return model_config_lib.ModelConfig(
        model_name=self.model_name, layer_style=self.layer_style,
        preprocessing_name=self.preprocessing_name,
        labels_offset=self.labels_offset, image_size=self.train_image_size,
        use_grayscale=self.use_grayscale, weight_decay=self.weight_decay,
        model_options=self.model_options(),
        preprocessing_options=self.preprocessing_options or {})

  def dataset(self, split_name=None):
    """The `DatasetSplit` to read (default: the training split)."""
    return dataset_factory.get_dataset(
        self.dataset_name, split_name or self.dataset_split_name,
        self.dataset_dir, skip_bad_records=self.skip_bad_records)

  @property
  def effective_preprocessing_name(self):
    """--preprocessing_name, else the dataset's for small-image datasets
    (digits, mnist, cifar10: a VGG crop of an 8x8 digit is meaningless), else
    the model's (Slim's rule); the same rule as evaluation and export."""
    return model_config_lib.preprocessing_name(self, self.dataset_name)

  # ---- validation ---------------------------------------------------------

  def validate(self, environ=None):
    """Checks every setting; raises `ConfigError` with one clear line.

    A parameter server (`--job_name=ps`) only needs a valid cluster: the
    other settings are the workers' business.

    Args:
      environ: the environment TF_CONFIG is read from (default os.environ).

    Returns:
      self, for chaining.
    """
    spec = self._check_deployment(environ)
    if spec.job_name == 'ps':
      return self
    _check(self.dataset_dir, '--dataset_dir is required: the directory with '
           'the TFRecords (e.g. python download_and_convert_data.py '
           '--dataset_name=digits --dataset_dir=/tmp/digits)')
    _check(self.train_dir, '--train_dir is required')
    info = _wrap('--dataset_name', dataset_factory.get_info,
                 self.dataset_name)
    _check(self.dataset_split_name in info.splits_to_sizes,
           '--dataset_split_name: dataset %s has no split %r; valid splits: '
           '%s' % (self.dataset_name, self.dataset_split_name,
                   ', '.join(info.split_names)))
    _check(0 <= self.labels_offset < info.num_classes - 1,
           '--labels_offset must be in [0, %d) for %s, got %d' %
           (info.num_classes - 1, self.dataset_name, self.labels_offset))
    _wrap('--model_name', names.check_network, self.model_name)
    _wrap('--layer_style', names.check_style, self.layer_style)
    _wrap('--preprocessing_name', preprocessing_names.style,
          self.effective_preprocessing_name)
    _check(self.optimizer in optimizers.OPTIMIZER_NAMES,
           '--optimizer: unknown optimizer %r; valid optimizers: %s' %
           (self.optimizer, ', '.join(optimizers.OPTIMIZER_NAMES)))
    _check(self.learning_rate_decay_type in learning_rate_lib.DECAY_TYPES,
           '--learning_rate_decay_type: unknown type %r; valid types: %s' %
           (self.learning_rate_decay_type,
            ', '.join(learning_rate_lib.DECAY_TYPES)))
    self._check_model_options()
    self._check_numbers()
    _check(self.checkpoint_path or not self.checkpoint_model_scope,
           '--checkpoint_model_scope needs --checkpoint_path')
    _check(self.checkpoint_path or not self.checkpoint_exclude_scopes,
           '--checkpoint_exclude_scopes needs --checkpoint_path')
    if spec.is_chief:  # The only process that writes there.
      check_writable_dir('--train_dir', self.train_dir)
    return self

  def _check_model_options(self):
    try:
      options_lib.check(self.model_name, self.model_options(), prefix='--')
    except ValueError as e:
      raise errors.ConfigError(str(e)) from None

  def _check_deployment(self, environ):
    """Checks the clone and cluster flags; returns the `ClusterConfig`."""
    _check(self.job_name in cluster_lib.JOBS, '--job_name must be one of %s, '
           'got %r' % (', '.join(cluster_lib.JOBS), self.job_name))
    _check(self.num_clones >= 1, '--num_clones must be >= 1, got %d' %
           self.num_clones)
    try:
      spec = self.cluster(environ)
    except cluster_lib.ClusterConfigError as e:
      raise errors.ConfigError(str(e)) from None
    if not spec.is_distributed:
      # A parameter server alone would serve nobody: without this check the
      # process would quietly train as a single local worker instead.
      _check(self.job_name != 'ps', '--job_name=ps needs a cluster: give '
             '--ps_hosts and --worker_hosts (or TF_CONFIG); a single local '
             'process trains without --job_name')
      _check((self.worker_replicas or 1) == 1 and not self.num_ps_tasks,
             '--worker_replicas/--num_ps_tasks describe a cluster: also give '
             '--ps_hosts and --worker_hosts (or TF_CONFIG)')
      _check(self.task == 0, '--task=%d needs a cluster (--worker_hosts or '
             'TF_CONFIG)' % self.task)
    else:
      for flag, given, actual in (
          ('worker_replicas', self.worker_replicas, spec.num_workers),
          ('num_ps_tasks', self.num_ps_tasks, spec.num_ps)):
        _check(given is None or given == actual,
               '--%s=%s does not match the cluster, which has %d' %
               (flag, given, actual))
    _check(spec.num_workers == 1 or spec.num_ps >= 1,
           'the cluster has %d workers but no parameter server to share the '
           'variables: add --ps_hosts (or a "ps" job to TF_CONFIG)' %
           spec.num_workers)
    _check(self.replicas_to_aggregate is None or self.sync_replicas,
           '--replicas_to_aggregate needs --sync_replicas')
    _check(self.replicas_to_aggregate is None or
           self.replicas_to_aggregate >= 1,
           '--replicas_to_aggregate must be >= 1, got %r' %
           self.replicas_to_aggregate)
    return spec

  def _check_numbers(self):
    _check(self.batch_size >= 1, '--batch_size must be >= 1, got %d' %
           self.batch_size)
    _check(self.max_number_of_steps is None or self.max_number_of_steps >= 0,
           '--max_number_of_steps must be >= 0, got %r' %
           self.max_number_of_steps)
    _check(self.train_image_size is None or self.train_image_size >= 1,
           '--train_image_size must be >= 1, got %r' % self.train_image_size)
    _check(self.learning_rate > 0, '--learning_rate must be > 0, got %r' %
           self.learning_rate)
    _check(0 <= self.label_smoothing < 1,
           '--label_smoothing must be in [0, 1), got %r' %
           self.label_smoothing)
    _check(self.weight_decay >= 0, '--weight_decay must be >= 0, got %r' %
           self.weight_decay)
    _check(self.num_epochs_per_decay > 0,
           '--num_epochs_per_decay must be > 0, got %r' %
           self.num_epochs_per_decay)
    _check(self.moving_average_decay is None or
           0 < self.moving_average_decay < 1,
           '--moving_average_decay must be in (0, 1), got %r' %
           self.moving_average_decay)
    _check(self.log_every_n_steps >= 1, '--log_every_n_steps must be >= 1')
    _check(self.save_interval_steps is None or self.save_interval_steps >= 1,
           '--save_interval_steps must be >= 1')
    _check(self.save_interval_secs >= 1, '--save_interval_secs must be >= 1')
    _check(self.save_summaries_secs >= 1, '--save_summaries_secs must be >= 1')
    for name in ('intra_op_parallelism_threads',
                 'inter_op_parallelism_threads'):
      value = getattr(self, name)
      _check(value is None or value >= 0, '--%s must be >= 0' % name)
    _check(self.num_readers >= 1 and self.num_preprocessing_threads >= 1,
           '--num_readers and --num_preprocessing_threads must be >= 1')
    _check(self.divergence_factor == 0 or self.divergence_factor > 1,
           '--divergence_factor must be > 1, or 0 to turn the check off; got '
           '%r' % self.divergence_factor)


def check_writable_dir(flag, path):
  """Raises `ConfigError` unless this process can write in directory `path`
  (or create it: its nearest existing parent is a writable directory).

  Remote paths (`gs://...`) are left to TensorFlow. A directory that exists
  is tested by creating and removing a file in it (permissions, ACLs and
  read-only mounts all show); nothing is created otherwise.
  """
  if '://' in path:
    return
  path = os.path.abspath(path)
  existing = path
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  _check(os.path.isdir(existing), '%s=%s: %s is a file, not a directory' %
         (flag, path, existing))
  if existing == path:
    try:
      fd, probe = tempfile.mkstemp(dir=path, prefix='.write_test_')
      os.close(fd)
      os.remove(probe)
      return
    except OSError as e:
      reason = e.strerror or str(e)
  elif os.access(existing, os.W_OK | os.X_OK):
    return
  else:
    reason = 'cannot create it in %s: %s' % (
        existing, os.strerror(errno.EACCES))
  raise errors.ConfigError(
      '%s=%s is not writable (%s): pass a directory this user can write to, '
      'or change its permissions' % (flag, path, reason))


def split_scopes(text):
  """'a, b,,c' -> ('a', 'b', 'c'); None or '' -> ()."""
  if not text:
    return ()
  if isinstance(text, (list, tuple)):
    items = text
  else:
    items = text.split(',')
  return tuple(s.strip().rstrip('/') for s in items if s.strip())


def _check(condition, message):
  if not condition:
    raise errors.ConfigError(message)


def _wrap(flag, function, value):
  """Calls a factory check; its ValueError becomes a ConfigError."""
  try:
    return function(value)
  except ValueError as e:
    raise errors.ConfigError('%s: %s' % (flag, e)) from None
