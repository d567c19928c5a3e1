r"""Converts a trained PyTorch ResNet-family checkpoint for this project.

Reads a state dict of pretrainedmodels (`se_resnet50-ce0d4300.pth`, ...),
timm (`model.safetensors`, `pytorch_model.bin`) or torchvision, without torch
and without running anything in the file, and writes a TF checkpoint with this
project's Slim variable names plus a sidecar JSON (network, topology, labels
offset, input preprocessing, source sha256):

  python convert_torch_checkpoint.py --input=se_resnet50-ce0d4300.pth \
      --output=/tmp/se_resnet50/model
  # -> /tmp/se_resnet50/model.index, model.data-00000-of-00001, model.json

The network (family, depth, depth multiplier, SE ratio, classes) is read from
the file; --model_name and --num_classes, if given, must agree with it.
--topology defaults to the file's origin (pretrainedmodels: caffe or
caffe_resnext; timm/torchvision: torch). --layer_style=keras writes Keras
names (`kernel`/`bias`) instead of Slim's (`weights`/`biases`); the scripts of
this project read Slim names in every style, so keep the default unless
another program needs Keras names.

Exit status: 0 on success; 2 for a wrong command line (a missing, unknown or
malformed flag, no such input file, an output path under a file); 1 when the file cannot
be converted (not a torch/safetensors file, refused as unsafe, truncated, not
a state dict, an unknown key layout, or a network other than --model_name /
--num_classes say). Each failure prints one `error:` line and writes nothing.
"""
import os
import sys
import time

from absl import app
from absl import flags

from runtime import script_util
from torch_checkpoints import reader
from torch_checkpoints.errors import ConversionError

FLAGS = flags.FLAGS

flags.DEFINE_string('input', None, 'The torch file: .safetensors, .pth, .pt '
                    'or .bin (zip or legacy torch format).')
flags.DEFINE_string('output', None, 'Checkpoint prefix to write, DIR/NAME '
                    '(DIR is created if missing); NAME.json is the sidecar.')
flags.DEFINE_string('model_name', None, 'Expected network, e.g. '
                    'se_resnet_v1_50 (default: inferred from the file).')
flags.DEFINE_string('topology', None, 'Topology recorded in the sidecar '
                    '(default: the layout\'s: caffe, caffe_resnext or torch).')
flags.DEFINE_string('layer_style', 'slim', 'Naming of the written '
                    'variables: slim or raw write weights/biases, keras '
                    'writes kernel/bias.')
flags.DEFINE_integer('num_classes', None, 'Expected number of classes of the '
                     'head (default: whatever the file has).')
flags.DEFINE_integer('image_size', None, 'Preprocessing recorded in the '
                     'sidecar: crop size (default 224, or timm\'s '
                     'config.json beside the input).')
flags.DEFINE_float('crop_pct', None, 'Preprocessing: central crop fraction '
                   '(default 0.875, or timm\'s config.json).')
flags.DEFINE_string('interpolation', None, 'Preprocessing: resize '
                    'interpolation, bilinear or bicubic (default bilinear, '
                    'or timm\'s config.json).')


def main(argv):
  if len(argv) > 1:
    print('error: unexpected arguments: %s' % ' '.join(argv[1:]),
          file=sys.stderr)
    return 2
  if not FLAGS.input or not FLAGS.output:
    print('error: --input and --output are required', file=sys.stderr)
    return 2
  start = time.time()
  try:
    # The file is read before TensorFlow is imported: a file that cannot be
    # converted fails at once.
    loaded = None
    if os.path.isfile(FLAGS.input):
      loaded = reader.read_state_dict(FLAGS.input)
    from torch_checkpoints import convert  # pylint: disable=g-import-not-at-top
    result = convert.convert(
        FLAGS.input, FLAGS.output, model_name=FLAGS.model_name,
        topology=FLAGS.topology, layer_style=FLAGS.layer_style,
        num_classes=FLAGS.num_classes, image_size=FLAGS.image_size,
        crop_pct=FLAGS.crop_pct, interpolation=FLAGS.interpolation,
        loaded=loaded)
  except ConversionError as e:
    print('error: %s' % ' '.join(str(e).split()), file=sys.stderr)
    return e.exit_code
  sidecar = result.sidecar
  print('Converted %s (%s, %s layout): %s, topology %s, %d classes, %d '
        'tensors -> %s in %.1f s' % (
            FLAGS.input, sidecar['source']['format'],
            sidecar['source']['layout'], sidecar['model_name'],
            sidecar['topology'], sidecar['num_classes'], result.num_tensors,
            ', '.join(result.files), time.time() - start))
  return 0


if __name__ == '__main__':
  app.run(main, flags_parser=script_util.parse_flags)
