r"""Full-size check by hand: random-weight torch SE networks -> convert -> same logits in TF?

The tests compare our logits with torch's on small fixtures (tools/make_torch_fixtures.py).
This script does the same at full size, 224x224 and 1000 classes, where torch is installed.
It runs in two phases, because torch and TensorFlow live in different virtualenvs:

  make     (torch venv) builds, from the real classes and without any download,
           pretrainedmodels se_resnet50 and se_resnext50_32x4d (pretrained=None), timm
           seresnet50 and seresnext50_32x4d (pretrained=False) and torchvision resnet50,
           with random weights and calibrated batch-norm statistics (as the fixtures: see
           make_torch_fixtures.randomise / calibrate), and writes to --work_dir each state
           dict in the format its source publishes (pretrainedmodels: legacy .pth; timm:
           .safetensors; torchvision: zip .pth), <name>.npz with inputs_224 (batch 2, NCHW,
           normalised) and logits_224 (computed in float64), and manifest.json in the
           fixtures' schema. The stock models are used unchanged (pretrainedmodels'
           AvgPool2d(7) is a global average at 224).
  compare  (project venv) converts each file with convert_torch_checkpoint.py (--input,
           --output, --model_name, --topology; timed, TensorFlow import included), builds
           the model in each layer style with the manifest's topology and model options,
           restores the converted checkpoint and prints max |ours - torch| / max |torch|
           per model and style, plus the conversion's wall and CPU time (the CPU time
           varies less with the machine's load) and the load average. It also reads the fixtures'
           manifest: --work_dir=tests/fixtures/torch checks the small fixtures the same way.

Usage (from the repository root; the torch venv as in tools/make_torch_fixtures.py):

  /path/to/torchenv/bin/python tools/compare_torch_full_size.py make \
      --work_dir=/tmp/torchfull
  .venv/bin/python tools/compare_torch_full_size.py compare --work_dir=/tmp/torchfull

or both at once from the torch venv, the compare phase running in the project's python:

  /path/to/torchenv/bin/python tools/compare_torch_full_size.py make \
      --work_dir=/tmp/torchfull --tf_python=.venv/bin/python

`make --models=timm_seresnet50` builds only some models; `compare --styles=slim` checks only
some styles. Exit status 1 if any relative difference exceeds --tolerance (default 1e-4).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TOOLS_DIR)
IMAGE_SIZE = 224
NUM_CLASSES = 1000
BATCH_SIZE = 2
STYLES = ('slim', 'raw', 'keras')

# name: (package, constructor, our model_name, topology, format)
MODELS = {
    'pretrainedmodels_se_resnet50': (
        'pretrainedmodels', 'se_resnet50', 'se_resnet_v1_50', 'caffe', 'legacy'),
    'pretrainedmodels_se_resnext50_32x4d': (
        'pretrainedmodels', 'se_resnext50_32x4d', 'se_resnext_50_32x4d', 'caffe_resnext',
        'legacy'),
    'timm_seresnet50': ('timm', 'seresnet50', 'se_resnet_v1_50', 'torch', 'safetensors'),
    'timm_seresnext50_32x4d': (
        'timm', 'seresnext50_32x4d', 'se_resnext_50_32x4d', 'torch', 'safetensors'),
    'torchvision_resnet50': ('torchvision', 'resnet50', 'resnet_v1_50', 'torch', 'zip'),
}


def _build_torch_model(package, constructor):
  if package == 'pretrainedmodels':
    from pretrainedmodels.models import senet
    return getattr(senet, constructor)(num_classes=NUM_CLASSES, pretrained=None)
  if package == 'timm':
    import timm
    return timm.create_model(constructor, pretrained=False, num_classes=NUM_CLASSES)
  from torchvision.models import resnet
  return getattr(resnet, constructor)(weights=None, num_classes=NUM_CLASSES)


def make(args):
  """Phase 1 (torch venv): random full-size models, their state dicts and logits."""
  import copy

  import numpy as np
  import torch

  sys.path.insert(0, TOOLS_DIR)
  import make_torch_fixtures as fixtures  # pylint: disable=g-import-not-at-top

  torch.set_num_threads(max(1, os.cpu_count() or 1))
  os.makedirs(args.work_dir, exist_ok=True)
  names = args.models or list(MODELS)
  unknown = sorted(set(names) - set(MODELS))
  if unknown:
    print('error: unknown --models %s; known: %s' % (unknown, ', '.join(MODELS)),
          file=sys.stderr)
    return 2
  entries = []
  for seed, name in enumerate(names, start=1):
    package, constructor, model_name, topology, fmt = MODELS[name]
    start = time.time()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(1000 + seed)
    model = _build_torch_model(package, constructor)
    fixtures.randomise(model, generator)
    fixtures.calibrate(model, generator, IMAGE_SIZE)
    state_dict = model.state_dict()
    filename = name + fixtures.SUFFIXES[fmt]
    path = os.path.join(args.work_dir, filename)
    fixtures.save_weights(state_dict, fmt, path)
    fixtures.check_same(state_dict, fixtures.load_weights(fmt, path), path)

    images = fixtures.normalised_images(torch.Generator().manual_seed(2000 + seed),
                                        BATCH_SIZE, IMAGE_SIZE)
    with torch.no_grad():
      reference = copy.deepcopy(model).double().eval()(images.double())
      single = model(images).double()
    scale = float(reference.abs().max())
    npz_name = name + '.npz'
    np.savez(os.path.join(args.work_dir, npz_name),
             **{'inputs_%d' % IMAGE_SIZE: images.numpy(),
                'logits_%d' % IMAGE_SIZE: reference.to(torch.float32).numpy()})
    entries.append({
        'name': name,
        'source': {'package': package, 'constructor': constructor},
        'model_name': model_name,
        'topology': topology,
        'model_options': {},
        'num_classes': NUM_CLASSES,
        'parameters': sum(v.numel() for k, v in state_dict.items()
                          if not k.endswith(('running_mean', 'running_var',
                                             'num_batches_tracked'))),
        'files': {fixtures.FORMAT_NAMES[fmt]: {'file': filename,
                                               'bytes': os.path.getsize(path)}},
        'logits': {'file': npz_name, 'image_sizes': [IMAGE_SIZE], 'batch_size': BATCH_SIZE,
                   'max_abs_logit': {str(IMAGE_SIZE): round(scale, 6)},
                   'torch_float32_max_rel_error': float(
                       '%.3g' % (float((single - reference).abs().max()) / scale))},
    })
    print('%-36s %-20s %-14s %10d params  %s  %.0f s' % (
        name, model_name, topology, entries[-1]['parameters'], filename,
        time.time() - start), flush=True)
  with open(os.path.join(args.work_dir, 'manifest.json'), 'w') as f:
    json.dump({'format': 'slim-senet-torch-fixtures', 'version': 1,
               'generator': 'tools/compare_torch_full_size.py make',
               'versions': {'torch': torch.__version__}, 'fixtures': entries}, f, indent=2)
    f.write('\n')
  if args.tf_python:
    command = [args.tf_python, os.path.abspath(__file__), 'compare',
               '--work_dir', args.work_dir, '--tolerance', str(args.tolerance)]
    print('$ ' + ' '.join(command), flush=True)
    return subprocess.call(command, cwd=REPO_ROOT)
  return 0


def _convert(args, entry, weights, output):
  command = [sys.executable, args.converter, '--input', weights, '--output', output,
             '--model_name', entry['model_name'], '--topology', entry['topology']]
  start = time.time()
  cpu_start = _children_cpu_seconds()
  result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
  seconds = time.time() - start
  if result.returncode != 0:
    tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
    raise RuntimeError('conversion failed (%s): %s' % (' '.join(command), ' | '.join(tail)))
  return seconds, _children_cpu_seconds() - cpu_start


def _children_cpu_seconds():
  """User + system CPU seconds of finished child processes (less load-dependent than wall)."""
  usage = resource.getrusage(resource.RUSAGE_CHILDREN)
  return usage.ru_utime + usage.ru_stime


def _our_logits(entry, style, checkpoint, images_nchw):
  """Our model in `style` with the converted checkpoint, on the same images (NHWC)."""
  import numpy as np
  from checkpointing import checkpoints
  from nets import nets_factory
  from runtime.tf_compat import tf
  from runtime.tf_compat import v1

  images = np.ascontiguousarray(images_nchw.transpose(0, 2, 3, 1))
  with tf.Graph().as_default():
    network_fn = nets_factory.get_network_fn(
        entry['model_name'], num_classes=entry['num_classes'], is_training=False,
        style=style, topology=entry['topology'], **entry.get('model_options', {}))
    inputs = v1.placeholder(tf.float32, (None,) + images.shape[1:])
    logits, _ = network_fn(inputs)
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      checkpoints.restore(session, checkpoint)
      return session.run(logits, {inputs: images})


def _load():
  try:
    return '%.1f' % os.getloadavg()[0]
  except OSError:
    return 'n/a'


def compare(args):
  """Phase 2 (project venv): convert, build in each style, compare the logits."""
  import numpy as np

  sys.path.insert(0, REPO_ROOT)
  with open(os.path.join(args.work_dir, 'manifest.json')) as f:
    manifest = json.load(f)
  load_start = _load()
  out_dir = args.output_dir or os.path.join(args.work_dir, 'converted')
  os.makedirs(out_dir, exist_ok=True)
  worst, rows = 0.0, []
  for entry in manifest['fixtures']:
    if args.models and entry['name'] not in args.models:
      continue
    for fmt, info in sorted(entry['files'].items()):
      weights = os.path.join(args.work_dir, info['file'])
      output = os.path.join(out_dir, '%s_%s' % (entry['name'], fmt.replace('-', '_')))
      try:
        seconds, cpu_seconds = _convert(args, entry, weights, output)
      except RuntimeError as e:
        rows.append((entry['name'], fmt, '-', '-', 'error', str(e)))
        worst = float('inf')
        continue
      arrays = np.load(os.path.join(args.work_dir, entry['logits']['file']))
      for style in args.styles:
        for size in entry['logits']['image_sizes']:
          reference = arrays['logits_%d' % size]
          ours = _our_logits(entry, style, output, arrays['inputs_%d' % size])
          rel = float(np.abs(ours - reference).max() / np.abs(reference).max())
          worst = max(worst, rel)
          timing = '%.1f s wall, %.1f s CPU' % (seconds, cpu_seconds)
          rows.append((entry['name'], fmt, style, size, '%.2e' % rel, timing))
          print('%-36s %-13s %-6s %4d  max|diff|/max|logit| %.2e  (convert %s)' % (
              entry['name'], fmt, style, size, rel, timing), flush=True)
  print('\nLoad average before/after: %s / %s' % (load_start, _load()))
  print('\n| model | file | style | size | max abs diff / max abs logit | conversion |')
  print('|---|---|---|---|---|---|')
  for row in rows:
    print('| %s | %s | %s | %s | %s | %s |' % row)
  if worst > args.tolerance:
    print('error: a relative difference of %.3g exceeds --tolerance=%g' % (
        worst, args.tolerance), file=sys.stderr)
    return 1
  return 0


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  sub = parser.add_subparsers(dest='phase', required=True)
  make_parser = sub.add_parser('make', help='phase 1, in the torch venv')
  compare_parser = sub.add_parser('compare', help='phase 2, in the project venv')
  for p in (make_parser, compare_parser):
    p.add_argument('--work_dir', required=True,
                   help='Where the state dicts, logits and manifest.json are.')
    p.add_argument('--models', type=lambda s: [m for m in s.split(',') if m],
                   default=None, help='Comma-separated subset of the manifest names.')
    p.add_argument('--tolerance', type=float, default=1e-4,
                   help='Largest max|diff| / max|logit| accepted.')
  make_parser.add_argument('--tf_python', default=None,
                           help='The project venv\'s python: run the compare phase with it '
                           'right after.')
  compare_parser.add_argument('--styles', type=lambda s: [x for x in s.split(',') if x],
                              default=list(STYLES), help='Layer styles to check.')
  compare_parser.add_argument('--converter',
                              default=os.path.join(REPO_ROOT, 'convert_torch_checkpoint.py'),
                              help='The converter script.')
  compare_parser.add_argument('--output_dir', default=None,
                              help='Converted checkpoints go here (default WORK_DIR/converted).')
  args = parser.parse_args(argv)
  return make(args) if args.phase == 'make' else compare(args)


if __name__ == '__main__':
  sys.exit(main())
