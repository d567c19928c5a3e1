"""Exports a classifier for inference: GraphDef, frozen GraphDef, SavedModel,
TFLite.

The inference graph (all four formats) has one input and three outputs:

| node            | dtype / shape                  | meaning                       |
|-----------------|--------------------------------|-------------------------------|
| `input`         | float32 [batch, size, size, C] | preprocessed images (C = 3, or 1 with use_grayscale) |
| `logits`        | float32 [batch, num_classes]   | the network's logits          |
| `probabilities` | float32 [batch, num_classes]   | softmax of the logits         |
| `classes`       | int64 [batch]                  | argmax + labels_offset: the dataset's label id |

`num_classes` is the dataset's number of labels minus `labels_offset`. The
network's own nodes stay too (e.g. `se_resnet_v1_50/predictions`).

The SavedModel (TF1 format, loadable by TF2's `tf.saved_model.load`) has two
signatures sharing one set of weights:
* `serving_default`: `images` (the `input` above) -> `logits`,
  `probabilities`, `classes`;
* `classify`: `image_bytes` (string [batch]: encoded PNG/JPEG/GIF/BMP files)
  -> the same outputs, with the evaluation preprocessing of the model built
  in, so raw image files can be classified directly.

TFLite is converted from the restored session (`input` -> the three outputs);
with a dynamic batch its input is [1, ...] and can be resized.

    config = ExportConfig(model=model_builder.ModelConfig('se_resnet_v1_50'),
                          num_classes=1001, checkpoint_path='/tmp/train',
                          saved_model_dir='/tmp/export/saved_model')
    result = export(config)
    result.input_name, result.output_names
"""
import dataclasses
import os
from typing import Optional

from absl import logging

from datasets import dataset_factory
from modeling import model_builder
from evaluation import restoring
from nets import layers
from runtime.tf_compat import slim, tf

v1 = tf.compat.v1

INPUT_NAME = 'input'
BYTES_INPUT_NAME = 'image_bytes'
OUTPUT_NAMES = ('logits', 'probabilities', 'classes')
SERVING_SIGNATURE = 'serving_default'
CLASSIFY_SIGNATURE = 'classify'
IMAGES_KEY = 'images'


class ExportError(ValueError):
  """The export cannot run as asked; the message says why."""


@dataclasses.dataclass(frozen=True)
class ExportConfig:
  """What to export and where.

  Attributes:
    model: a `model_builder.ModelConfig` (image_size = exported input size).
    num_classes: the dataset's number of labels (before labels_offset).
    dataset_name: the dataset trained on (for the `classify` signature's
      default preprocessing), or None.
    batch_size: static batch size; None for a dynamic batch.
    decode_channels: channels the `classify` signature decodes files to;
      None: the dataset's (1 for digits/MNIST, 3 otherwise; 3 without a
      dataset).
    output_file: the inference GraphDef without weights (as Slim's
      export_inference_graph).
    write_text_graphdef: write `output_file` as text.
    checkpoint_path: checkpoint prefix or directory; needed for the three
      outputs below.
    frozen_graph_file: GraphDef with the weights as constants.
    saved_model_dir: SavedModel directory (must not exist yet).
    tflite_file: TFLite flatbuffer.
    moving_average_decay: if set, export the weights' moving averages.
  """
  model: model_builder.ModelConfig
  num_classes: int
  dataset_name: Optional[str] = None
  batch_size: Optional[int] = None
  decode_channels: Optional[int] = None
  output_file: Optional[str] = None
  write_text_graphdef: bool = False
  checkpoint_path: Optional[str] = None
  frozen_graph_file: Optional[str] = None
  saved_model_dir: Optional[str] = None
  tflite_file: Optional[str] = None
  moving_average_decay: Optional[float] = None

  @property
  def needs_checkpoint(self):
    return bool(self.frozen_graph_file or self.saved_model_dir or
                self.tflite_file)


@dataclasses.dataclass
class ExportResult:
  """Paths written and the node names to feed and fetch."""
  input_name: str
  output_names: tuple
  input_shape: list
  num_classes: int
  files: dict
  checkpoint: Optional[str] = None
  global_step: Optional[int] = None

  def describe(self):
    """Lines for the log / stdout."""
    lines = ['input node: %s %s float32' % (self.input_name, self.input_shape),
             'output nodes: %s' % ', '.join(self.output_names)]
    if self.checkpoint:
      lines.append('weights: %s (step %s)' % (self.checkpoint,
                                              self.global_step))
    for kind, path in sorted(self.files.items()):
      lines.append('%s: %s' % (kind, path))
    return lines


@dataclasses.dataclass
class InferenceGraph:
  """A built inference graph: `images` in, `outputs` by name out."""
  graph: tf.Graph
  images: tf.Tensor
  outputs: dict
  image_bytes: Optional[tf.Tensor] = None
  bytes_outputs: Optional[dict] = None


def _outputs(logits, labels_offset, prefix=''):
  logits = tf.identity(logits, name=prefix + 'logits')
  classes = tf.argmax(logits, 1)
  if labels_offset:
    classes += labels_offset
  return {
      'logits': logits,
      'probabilities': tf.nn.softmax(logits, name=prefix + 'probabilities'),
      'classes': tf.identity(classes, name=prefix + 'classes'),
  }


def _decode_and_preprocess(config, decode_channels, image_bytes,
                           dataset_name):
  size = model_builder.image_size(config)
  preprocess = model_builder.preprocessing_fn(config, is_training=False,
                                              dataset_name=dataset_name)

  def one(encoded):
    image = tf.io.decode_image(encoded, channels=decode_channels,
                               expand_animations=False)
    image.set_shape([None, None, decode_channels])
    return tf.cast(preprocess(image, size, size), tf.float32)

  return tf.map_fn(one, image_bytes, fn_output_signature=tf.float32)


def build_inference_graph(model_config, num_classes, batch_size=None,
                          with_bytes_input=False, decode_channels=3,
                          dataset_name=None):
  """Builds the inference graph in a new `tf.Graph`.

  Args:
    model_config: a `model_builder.ModelConfig`.
    num_classes: the dataset's number of labels (before labels_offset).
    batch_size: static batch size or None.
    with_bytes_input: add a second tower (same variables) fed by encoded
      image files through the evaluation preprocessing.
    decode_channels: channels of the decoded files.
    dataset_name: picks the preprocessing of the bytes tower when the config
      names none (`model_builder.preprocessing_name`).

  Returns:
    An `InferenceGraph`.

  Example:
    g = build_inference_graph(ModelConfig('simple_cnn'), 10)
    g.images.name, sorted(g.outputs)   # 'input:0', [classes, logits, ...]
  """
  size = model_builder.image_size(model_config)
  num_logits = model_config.num_logits(num_classes)
  graph = tf.Graph()
  # Resource variables even after disable_v2_behavior(): TF2's loader cannot
  # track reference variables (it warns once per variable). Standard ops
  # only: a plain TensorFlow must load the graph without our op library.
  with graph.as_default(), v1.variable_scope(v1.get_variable_scope(),
                                             use_resource=True), \
       slim.arg_scope([layers.squeeze_excitation], custom_ops=False):
    images = v1.placeholder(
        tf.float32,
        [batch_size, size, size, model_builder.image_channels(model_config)],
        name=INPUT_NAME)
    logits, _ = model_builder.build_logits(model_config, images, num_logits,
                                           is_training=False)
    built = InferenceGraph(graph, images,
                           _outputs(logits, model_config.labels_offset))
    if with_bytes_input:
      built.image_bytes = v1.placeholder(tf.string, [batch_size],
                                         name=BYTES_INPUT_NAME)
      with tf.name_scope(CLASSIFY_SIGNATURE):
        decoded = _decode_and_preprocess(model_config, decode_channels,
                                         built.image_bytes, dataset_name)
      logits, _ = model_builder.build_logits(model_config, decoded, num_logits,
                                             is_training=False, reuse=True)
      built.bytes_outputs = _outputs(logits, model_config.labels_offset,
                                     prefix=CLASSIFY_SIGNATURE + '/')
  return built


def _restore(session, config):
  variables = restoring.model_variables(config.model.model_scope)
  return restoring.restore(
      session, config.checkpoint_path, variables, config.model.model_name,
      use_moving_averages=config.moving_average_decay is not None)


def _write_graph(graph_def, path, as_text):
  directory, name = os.path.split(os.path.abspath(path))
  tf.io.gfile.makedirs(directory)
  tf.io.write_graph(graph_def, directory, name, as_text=as_text)
  return path


def freeze(session, graph):
  """The graph's inference subgraph with variables turned into constants."""
  return v1.graph_util.convert_variables_to_constants(
      session, graph.as_graph_def(), list(OUTPUT_NAMES))


def _signature(inputs, outputs):
  return v1.saved_model.predict_signature_def(inputs=inputs, outputs=outputs)


def _decode_channels(config):
  if config.decode_channels:
    return config.decode_channels
  if config.dataset_name:
    return dataset_factory.get_info(config.dataset_name).image_channels
  return 3


def _save_model(config):
  """Builds the two-signature graph, restores and writes the SavedModel."""
  built = build_inference_graph(config.model, config.num_classes,
                                config.batch_size, with_bytes_input=True,
                                decode_channels=_decode_channels(config),
                                dataset_name=config.dataset_name)
  with built.graph.as_default(), v1.Session() as sess:
    _restore(sess, config)
    builder = v1.saved_model.Builder(config.saved_model_dir)
    builder.add_meta_graph_and_variables(
        sess, [v1.saved_model.tag_constants.SERVING],
        signature_def_map={
            SERVING_SIGNATURE: _signature({IMAGES_KEY: built.images},
                                          built.outputs),
            CLASSIFY_SIGNATURE: _signature(
                {BYTES_INPUT_NAME: built.image_bytes}, built.bytes_outputs),
        },
        strip_default_attrs=True)
    builder.save()
  return config.saved_model_dir


def _convert_tflite(session, built):
  converter = v1.lite.TFLiteConverter.from_session(
      session, [built.images], [built.outputs[n] for n in OUTPUT_NAMES])
  return converter.convert()


def export(config):
  """Writes the requested files; see the module docstring for the graph.

  Returns:
    An `ExportResult`.

  Raises:
    ExportError: nothing to write, or outputs that need a checkpoint without
      one.
    CheckpointMismatchError: the checkpoint does not fit the model.

  Example:
    export(ExportConfig(model=ModelConfig('simple_cnn'), num_classes=10,
                        output_file='/tmp/simple_cnn_inf_graph.pb'))
  """
  if not (config.output_file or config.needs_checkpoint):
    raise ExportError('nothing to export: pass --output_file, or '
                      '--checkpoint_path with --frozen_graph_file, '
                      '--saved_model_dir or --tflite_file')
  if config.needs_checkpoint and not config.checkpoint_path:
    raise ExportError('--frozen_graph_file, --saved_model_dir and '
                      '--tflite_file need --checkpoint_path')
  if config.saved_model_dir and tf.io.gfile.exists(config.saved_model_dir):
    raise ExportError('saved_model_dir %s already exists; remove it or pick '
                      'another directory' % config.saved_model_dir)
  built = build_inference_graph(config.model, config.num_classes,
                                config.batch_size)
  result = ExportResult(
      input_name=INPUT_NAME, output_names=OUTPUT_NAMES,
      input_shape=built.images.shape.as_list(),
      num_classes=config.model.num_logits(config.num_classes), files={})
  if config.output_file:
    result.files['graph'] = _write_graph(built.graph.as_graph_def(),
                                         config.output_file,
                                         config.write_text_graphdef)
  if not config.needs_checkpoint:
    return result
  with built.graph.as_default(), v1.Session() as sess:
    planned = _restore(sess, config)
    logging.info('%s', planned.summary())
    result.checkpoint, result.global_step = planned.checkpoint, planned.step
    if config.frozen_graph_file:
      result.files['frozen_graph'] = _write_graph(
          freeze(sess, built.graph), config.frozen_graph_file, as_text=False)
    if config.tflite_file:
      flatbuffer = _convert_tflite(sess, built)
      tf.io.gfile.makedirs(os.path.dirname(os.path.abspath(
          config.tflite_file)))
      with tf.io.gfile.GFile(config.tflite_file, 'wb') as f:
        f.write(flatbuffer)
      result.files['tflite'] = config.tflite_file
  if config.saved_model_dir:
    result.files['saved_model'] = _save_model(config)
  return result
