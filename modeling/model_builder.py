"""From a model description and a dataset to logits: the step training and
evaluation share.

`ModelConfig` holds what Slim's scripts spread over flags (model name, layer
style, preprocessing, labels offset, image size, builder options such as the
SE ones). `build_classifier` reads a dataset split through the tf.data
pipeline, preprocesses it for the model, subtracts the labels offset and builds
the network with `num_classes = dataset.num_classes - labels_offset`.

    config = ModelConfig('se_resnet_v1_14', layer_style='raw', image_size=32,
                         preprocessing_name='digits',
                         model_options={'depth_multiplier': 0.25})
    with tf.Graph().as_default():
      dataset = dataset_factory.get_dataset('digits', 'train', '/tmp/digits')
      model = build_classifier(config, dataset, batch_size=32,
                               is_training=True, seed=1)
      loss = v1.losses.sparse_softmax_cross_entropy(model.labels, model.logits)
"""
import collections
import functools

from datasets import pipeline
from modeling import model_config
from nets import nets_factory
from runtime.tf_compat import tf
from preprocessing import preprocessing_factory

# TensorFlow-free, in model_config (the scripts check flags before TF loads);
# here under their old names too.
ModelConfig = model_config.ModelConfig
SMALL_IMAGE_DATASETS = model_config.SMALL_IMAGE_DATASETS
preprocessing_name = model_config.preprocessing_name


Classifier = collections.namedtuple('Classifier', [
    'images', 'labels', 'logits', 'end_points', 'num_classes', 'image_size',
    'iterator_initializer'
])
Classifier.__doc__ = """What `build_classifier` built.

Attributes:
  images: float32 [B, H, W, C], preprocessed.
  labels: int64 [B], the dataset's labels minus `labels_offset`.
  logits: float32 [B, num_classes].
  end_points: the network's end points.
  num_classes: logits per example (dataset classes - labels_offset).
  image_size: H (= W).
  iterator_initializer: op that (re)starts the data when built with
    `initializable=True`, else None.
"""


def network_fn(config, num_classes, is_training):
  """The factory's network function for `config` with `num_classes` logits.

  Args:
    config: a `ModelConfig`.
    num_classes: number of logits (already net of any labels offset).
    is_training: batch norm mode.

  Returns:
    `fn(images, **kwargs) -> (logits, end_points)` with `default_image_size`.

  Example:
    fn = network_fn(ModelConfig('se_resnet_v1_50'), 1000, False)
  """
  return nets_factory.get_network_fn(
      config.model_name, num_classes, weight_decay=config.weight_decay,
      is_training=is_training, style=config.layer_style,
      **config.model_options)


def image_size(config):
  """The input size: `config.image_size` or the network's default."""
  if config.image_size:
    return int(config.image_size)
  return nets_factory.networks_map[config.model_name].default_image_size


def image_channels(config):
  return 1 if config.use_grayscale else 3


def preprocessing_fn(config, is_training, dataset_name=None):
  """`fn(image, height, width)` of `preprocessing_name(config, dataset)`,
  with `config.preprocessing_options` as its keywords."""
  fn = preprocessing_factory.get_preprocessing(
      preprocessing_name(config, dataset_name), is_training=is_training,
      use_grayscale=config.use_grayscale)
  if not config.preprocessing_options:
    return fn
  return functools.partial(fn, **config.preprocessing_options)


def build_logits(config, images, num_classes, is_training, reuse=None):
  """Builds the network on `images`: (logits [B, num_classes], end_points).

  Args:
    config: a `ModelConfig`.
    images: float32 [B, H, W, C] preprocessed images.
    num_classes: number of logits (dataset classes - labels_offset).
    is_training: batch norm mode.
    reuse: reuse the variables of an earlier call (a second tower).

  Returns:
    (logits, end_points); logits are [B, num_classes] for every network.

  Example:
    logits, _ = build_logits(config, images, 10, is_training=False)
  """
  fn = network_fn(config, num_classes, is_training)
  kwargs = {'reuse': reuse} if reuse else {}
  logits, end_points = fn(images, **kwargs)
  if logits.shape.ndims != 2:  # e.g. spatial_squeeze=False
    logits = tf.reshape(logits, [-1, num_classes])
  return logits, end_points


def build_classifier(config, dataset, batch_size, is_training,
                     initializable=False, **pipeline_kwargs):
  """Input pipeline, preprocessing, labels offset and network, in one graph.

  Call inside `with tf.Graph().as_default():`.

  Args:
    config: a `ModelConfig`.
    dataset: a `DatasetSplit` from `dataset_factory.get_dataset`.
    batch_size: examples per batch.
    is_training: training (shuffled, repeated, random preprocessing, batch
      norm in training mode) or evaluation (one deterministic epoch, every
      example once, the last partial batch kept).
    initializable: use an initializable iterator (run
      `iterator_initializer` before each pass), e.g. to evaluate several
      checkpoints in one graph.
    **pipeline_kwargs: passed to `datasets.pipeline.make_dataset` (seed,
      num_epochs, num_shards, shard_index, num_parallel_calls, ...).

  Returns:
    A `Classifier`.

  Raises:
    DatasetError: missing or unreadable data.
    ValueError: bad names or options.

  Example:
    model = build_classifier(config, dataset, 100, is_training=False)
  """
  size = image_size(config)
  preprocess = preprocessing_fn(config, is_training, dataset.name)
  make = (pipeline.make_initializable_batches if initializable else
          pipeline.make_batches)
  built = make(dataset, batch_size, preprocess, size, is_training,
               **pipeline_kwargs)
  batch, initializer = built if initializable else (built, None)
  labels = batch.labels
  if config.labels_offset:
    labels = labels - config.labels_offset
  num_classes = config.num_logits(dataset.num_classes)
  logits, end_points = build_logits(config, batch.images, num_classes,
                                    is_training)
  return Classifier(batch.images, labels, logits, end_points, num_classes,
                    size, initializer)
