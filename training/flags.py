"""The flags of `train_image_classifier.py`, named and defaulted as Slim's.

A Slim command line works unchanged; our additions are marked "(ours)". The
model flags are those of `modeling.model_flags`, shared with the eval and
export scripts, so one set of model flags describes a network everywhere.
Names (models, datasets, optimizers, ...) are checked by
`TrainConfig.validate`, which says in one line what is valid.

    define_flags()                      # in the script, at import
    config = config_from_flags(FLAGS)   # in main
"""
import dataclasses
import functools

from absl import flags

from modeling import model_flags
from training import config as config_lib


def define_flags(flag_values=flags.FLAGS):
  """Defines the training flags on `flag_values`, group by group.

  Example:
    define_flags(flags.FLAGS)   # at import of train_image_classifier.py
  """
  define_data_flags(flag_values)
  # The model flags the scripts share (train, eval, export): model_name,
  # layer_style, preprocessing_name, labels_offset, use_grayscale and one
  # per model option of `nets.options`.
  model_flags.define_model_flags(flag_values=flag_values)
  define_optimizer_flags(flag_values)
  define_learning_rate_flags(flag_values)
  define_fine_tuning_flags(flag_values)
  define_runtime_flags(flag_values)
  define_deployment_flags(flag_values)


def _definers(flag_values):
  """DEFINE_string, _integer, _float and _boolean bound to `flag_values`."""
  return tuple(
      functools.partial(define, flag_values=flag_values)
      for define in (flags.DEFINE_string, flags.DEFINE_integer,
                     flags.DEFINE_float, flags.DEFINE_boolean))


def define_data_flags(flag_values):
  """The dataset, batch and input pipeline flags."""
  define_string, define_integer, _, define_bool = _definers(flag_values)
  define_string('dataset_name', 'imagenet', 'The name of the dataset to load.')
  define_string('dataset_split_name', 'train', 'The split to train on.')
  define_string('dataset_dir', None,
                'The directory where the dataset files are stored.')
  define_integer('batch_size', 32, 'The number of samples in each batch.')
  define_integer('train_image_size', None, 'Train image size (default: the '
                 'network\'s default size).')
  define_integer('max_number_of_steps', None,
                 'The maximum number of training steps (global step). '
                 'Asynchronous cluster workers stop once the shared step '
                 'reaches it, each with at most its one step in flight: '
                 'the run ends between it and it + number of workers - 1.')
  define_integer('num_readers', 4, 'Files read in parallel.')
  define_integer('num_preprocessing_threads', 4,
                 'Parallel decode/preprocessing calls.')
  define_bool('skip_bad_records', False, '(ours) Check every record once '
              'before training and leave the bad ones out (truncated files, '
              'undecodable images, labels out of range), with a count in '
              'the log; default: a bad record stops the run with an error '
              'naming its file and index.')


def define_optimizer_flags(flag_values):
  """The optimizer, its hyper-parameters and the weight decay."""
  define_string, _, define_float, _ = _definers(flag_values)
  define_float('weight_decay', 0.00004,
               'The weight decay on the model weights.')
  define_string('optimizer', 'rmsprop', 'adadelta, adagrad, adam, ftrl, '
                'momentum, rmsprop or sgd.')
  define_float('adadelta_rho', 0.95, 'The decay rate for adadelta.')
  define_float('adagrad_initial_accumulator_value', 0.1,
               'Starting value for the AdaGrad accumulators.')
  define_float('adam_beta1', 0.9,
               'The exponential decay rate for the 1st moment estimates.')
  define_float('adam_beta2', 0.999,
               'The exponential decay rate for the 2nd moment estimates.')
  define_float('opt_epsilon', 1.0, 'Epsilon term for the optimizer.')
  define_float('ftrl_learning_rate_power', -0.5, 'The learning rate power.')
  define_float('ftrl_initial_accumulator_value', 0.1,
               'Starting value for the FTRL accumulators.')
  define_float('ftrl_l1', 0.0, 'The FTRL l1 regularization strength.')
  define_float('ftrl_l2', 0.0, 'The FTRL l2 regularization strength.')
  define_float('momentum', 0.9, 'The momentum for the MomentumOptimizer.')
  define_float('rmsprop_momentum', 0.9, 'Momentum.')
  define_float('rmsprop_decay', 0.9, 'Decay term for RMSProp.')


def define_learning_rate_flags(flag_values):
  """The learning rate schedule, label smoothing and moving averages."""
  define_string, _, define_float, _ = _definers(flag_values)
  define_string('learning_rate_decay_type', 'exponential',
                'How the learning rate decays: fixed, exponential or '
                'polynomial.')
  define_float('learning_rate', 0.01, 'Initial learning rate.')
  define_float('end_learning_rate', 0.0001,
               'The final learning rate of the polynomial decay.')
  define_float('label_smoothing', 0.0, 'The amount of label smoothing.')
  define_float('learning_rate_decay_factor', 0.94,
               'Learning rate decay factor.')
  define_float('num_epochs_per_decay', 2.0,
               'Number of epochs after which learning rate decays.')
  define_float('moving_average_decay', None,
               'The decay of the weights\' moving averages (saved in the '
               'checkpoint); None: no moving averages.')


def define_fine_tuning_flags(flag_values):
  """The checkpoint to warm-start from and what to restore and train."""
  define_string, _, _, define_bool = _definers(flag_values)
  define_string('checkpoint_path', None, 'The checkpoint (file prefix or '
                'directory) to fine-tune from; used only when --train_dir '
                'has no checkpoint yet.')
  define_string('checkpoint_exclude_scopes', None,
                'Comma-separated scopes (of our model) not restored.')
  define_string('trainable_scopes', None, 'Comma-separated scopes to train '
                '(default all); `*` matches across levels, e.g. '
                'se_resnet_v1_50/*/se.')
  define_bool('ignore_missing_vars', False,
              'Leave variables absent from the checkpoint freshly '
              'initialised instead of failing.')
  define_string('checkpoint_model_scope', None, '(ours) The model scope used '
                'in --checkpoint_path, mapped onto --model_name\'s, e.g. '
                'resnet_v1_50 to warm-start se_resnet_v1_50.')
  define_bool('update_frozen_batch_norm', False, '(ours) With '
              '--trainable_scopes, also update the batch norm statistics of '
              'the frozen layers (Slim did); default: frozen means frozen.')


def define_runtime_flags(flag_values):
  """Where and how often to save and log, divergence, threads and seed."""
  define_string, define_integer, define_float, define_bool = _definers(
      flag_values)
  define_string('train_dir', '/tmp/tfmodel/',
                'Directory where checkpoints and event logs are written to.')
  define_integer('log_every_n_steps', 10,
                 'The frequency with which logs are printed.')
  define_integer('save_summaries_secs', 600,
                 'The frequency with which summaries are saved, in seconds.')
  define_integer('save_interval_secs', 600,
                 'The frequency with which the model is saved, in seconds.')
  define_integer('save_interval_steps', None, '(ours) Save every N steps '
                 'instead of every --save_interval_secs.')
  define_integer('max_checkpoints_to_keep', 5,
                 '(ours) Checkpoints kept in --train_dir.')
  define_float('divergence_factor', 100.0, '(ours) Stop when the loss stays '
               'above this many times its first step\'s value for 10 steps '
               'in a row (a finite divergence; NaN/Inf always stops), rolling '
               'back to the last good checkpoint; 0 turns this check off.')
  define_bool('summarize_histograms', False, '(ours) Histograms of '
              'activations and variables in the summaries.')
  define_integer('intra_op_parallelism_threads', None, '(ours) Threads per '
                 'op (default: the cores this process may use).')
  define_integer('inter_op_parallelism_threads', None, '(ours) Ops run in '
                 'parallel (default 1, measured fastest on CPU).')
  define_integer('random_seed', None, '(ours) Graph and input seed.')


def define_deployment_flags(flag_values):
  """Clones on one worker; parameter servers and workers (a cluster)."""
  define_string, define_integer, _, define_bool = _definers(flag_values)
  define_integer('num_clones', 1, 'Number of model clones on this worker, '
                 'each on --batch_size examples; gradients are averaged.')
  define_bool('clone_on_cpu', False, 'Use CPUs to deploy clones.')
  define_integer('worker_replicas', None, 'Number of worker replicas '
                 '(default: the cluster\'s workers, else 1).')
  define_integer('num_ps_tasks', None, 'The number of parameter servers '
                 '(default: the cluster\'s, else 0: variables stay local).')
  define_integer('task', 0, 'Task id of this replica in its job.')
  define_bool('sync_replicas', False, 'Whether or not to synchronize the '
              'replicas during training (SyncReplicasOptimizer).')
  define_integer('replicas_to_aggregate', None, 'The number of gradients to '
                 'collect before updating params (default: '
                 '--worker_replicas).')
  define_string('ps_hosts', '', '(ours) Comma-separated host:port of the '
                'parameter servers.')
  define_string('worker_hosts', '', '(ours) Comma-separated host:port of the '
                'workers; worker 0 is the chief. Empty: TF_CONFIG if set, '
                'else one local process.')
  define_string('job_name', 'worker', '(ours) This process\'s job: ps '
                '(serves variables until killed) or worker.')


def config_from_flags(flag_values=flags.FLAGS):
  """A `TrainConfig` from parsed flags (not validated yet)."""
  values = {}
  for field in dataclasses.fields(config_lib.TrainConfig):
    if field.name in flag_values:
      values[field.name] = flag_values[field.name].value
  values['checkpoint_exclude_scopes'] = config_lib.split_scopes(
      values.get('checkpoint_exclude_scopes'))
  values['trainable_scopes'] = config_lib.split_scopes(
      values.get('trainable_scopes'))
  return config_lib.TrainConfig(**values)
