r"""Exports an image classifier for inference (Slim's flags, plus freezing,
SavedModel and TFLite).

The inference GraphDef without weights, as Slim does:

  python export_inference_graph.py --model_name=se_resnet_v1_50 \
      --output_file=/tmp/se_resnet_v1_50_inf_graph.pb

With a checkpoint: a frozen GraphDef, a SavedModel for TF2's
tf.saved_model.load and a TFLite file:

  python export_inference_graph.py --model_name=se_resnet_v1_14 \
      --depth_multiplier=0.25 --dataset_name=digits --image_size=32 \
      --preprocessing_name=digits --checkpoint_path=/tmp/train \
      --frozen_graph_file=/tmp/export/frozen.pb \
      --saved_model_dir=/tmp/export/saved_model \
      --tflite_file=/tmp/export/model.tflite

Input node `input` (float32 [batch_size, image_size, image_size, 3], or 1
channel with --use_grayscale: preprocessed images); output nodes `logits`,
`probabilities`, `classes` (argmax + labels_offset). The SavedModel's
`serving_default` signature takes `images` (= `input`); its `classify`
signature takes `image_bytes` (encoded image files) and preprocesses them.
The node names are printed at the end. A bad flag prints one `error:` line
and exits 2 (before TensorFlow loads); a problem found later (e.g. with the
checkpoint) exits 1.
"""
from absl import app
from absl import flags
from absl import logging

from datasets import dataset_factory
from modeling import model_flags
from runtime import script_util

FLAGS = flags.FLAGS

flags.DEFINE_integer('image_size', None,
                     'Input height and width (default: the network\'s).')
flags.DEFINE_integer('batch_size', None,
                     'Static batch size of the input (default: dynamic).')
flags.DEFINE_string('dataset_name', 'imagenet',
                    'The dataset the model was trained on (its number of '
                    'classes and image channels).')
flags.DEFINE_integer('num_classes', None,
                     'Number of labels (overrides --dataset_name\'s).')
flags.DEFINE_string('output_file', None,
                    'Where the inference GraphDef (no weights) is written.')
flags.DEFINE_bool('write_text_graphdef', False,
                  'Write --output_file as a text GraphDef.')
flags.DEFINE_string('checkpoint_path', None,
                    'Checkpoint prefix or directory (its latest), for the '
                    'outputs below.')
flags.DEFINE_string('frozen_graph_file', None,
                    'Where the GraphDef with the weights as constants goes.')
flags.DEFINE_string('saved_model_dir', None,
                    'Where the SavedModel goes (must not exist).')
flags.DEFINE_string('tflite_file', None, 'Where the TFLite model goes.')
flags.DEFINE_float('moving_average_decay', None,
                   'If set, export the moving averages of the weights.')
model_flags.define_model_flags()


def check_flags():
  """Checks the names without TensorFlow (ValueError)."""
  model_flags.model_config_from_flags_and_sidecar(
      FLAGS, FLAGS.checkpoint_path, image_size=FLAGS.image_size,
      log=lambda message: None)
  dataset_factory.get_info(FLAGS.dataset_name)


def export_config_from_flags():
  from evaluation import export  # pylint: disable=g-import-not-at-top
  info = dataset_factory.get_info(FLAGS.dataset_name)
  return export.ExportConfig(
      model=model_flags.model_config_from_flags_and_sidecar(
          FLAGS, FLAGS.checkpoint_path, image_size=FLAGS.image_size,
          log=logging.info),
      num_classes=FLAGS.num_classes or info.num_classes,
      dataset_name=FLAGS.dataset_name,
      batch_size=FLAGS.batch_size,
      output_file=FLAGS.output_file,
      write_text_graphdef=FLAGS.write_text_graphdef,
      checkpoint_path=FLAGS.checkpoint_path,
      frozen_graph_file=FLAGS.frozen_graph_file,
      saved_model_dir=FLAGS.saved_model_dir,
      tflite_file=FLAGS.tflite_file,
      moving_average_decay=FLAGS.moving_average_decay)


def _run():
  from evaluation import export  # pylint: disable=g-import-not-at-top
  result = export.export(export_config_from_flags())
  print('\n'.join(result.describe()), flush=True)


def main(argv):
  return script_util.graph_mode_main(argv, _run, check=check_flags)


if __name__ == '__main__':
  app.run(main, flags_parser=script_util.parse_flags)
