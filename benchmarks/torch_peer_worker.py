"""The PyTorch side of the benchmark's torch peer: one timm model, stepped on request.

Run by `benchmarks.torch_peer` with a Python that has torch and timm (often another
virtualenv than the project's; torch is not a dependency of this project). It imports
nothing from the project, builds `timm.create_model(--model, pretrained=False)`, and for
--memory_format=auto times a few steps in NCHW and in channels_last and keeps the faster.
It then prints one JSON line (ready, the format chosen, multiply-adds per step, versions)
and serves the parent over stdin/stdout, one line each way:

  step   -> runs one step (forward: logits in eval mode under inference_mode; train: SGD
            momentum 0.9 on softmax cross-entropy, batch norm in train mode), answers `ok`
  quit   -> answers with a JSON line holding the peak resident memory, and exits

so the parent's clock times each step as it times its TensorFlow sessions, in the same
interleaved rounds (a pipe round trip is ~0.1 ms against steps of 10 ms and more).

Multiply-adds follow the benchmark's convention (convolutions and fully connected layers,
counted by forward hooks): a training step counts each layer's forward, weight gradient and
input gradient, minus the input gradient of the first convolution, which torch (like
TensorFlow for our constant images) does not compute.

Example (by hand):

  printf 'step\\nquit\\n' | /path/to/torchenv/bin/python benchmarks/torch_peer_worker.py \\
      --model=seresnet50 --mode=forward --batch_size=1 --image_size=64 --threads=2
"""
import argparse
import json
import os
import sys
import time

LEARNING_RATE = 0.01
MOMENTUM = 0.9
FORMAT_TRIAL_STEPS = 3


def _peak_rss_mb():
  try:
    with open('/proc/self/status') as f:
      for line in f:
        if line.startswith('VmHWM:'):
          return int(line.split()[1]) / 1024.0
  except OSError:
    pass
  return None


def _count_multiply_adds(torch, model, images):
  """(forward multiply-adds, those of the first convolution) for one batch."""
  counts = []

  def hook(module, inputs, output):
    if isinstance(module, torch.nn.Conv2d):
      kh, kw = module.kernel_size
      counts.append(output.numel() * (module.in_channels // module.groups) * kh * kw)
    else:
      counts.append(output.numel() * module.in_features)

  handles = [m.register_forward_hook(hook) for m in model.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
  with torch.no_grad():
    model.eval()
    model(images)
  for h in handles:
    h.remove()
  return sum(counts), counts[0]


def _make_step(torch, model, mode, images, labels):
  if mode == 'forward':
    model.eval()

    def step():
      with torch.inference_mode():
        model(images)
    return step
  model.train()
  optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
  loss_fn = torch.nn.CrossEntropyLoss()

  def step():
    optimizer.zero_grad(set_to_none=True)
    loss_fn(model(images), labels).backward()
    optimizer.step()
  return step


def _build(torch, timm, args, memory_format):
  torch.manual_seed(0)
  model = timm.create_model(args.model, pretrained=False, num_classes=args.num_classes)
  images = torch.rand(args.batch_size, 3, args.image_size, args.image_size) * 2 - 1
  labels = torch.randint(0, args.num_classes, (args.batch_size,))
  if memory_format == 'channels_last':
    model = model.to(memory_format=torch.channels_last)
    images = images.contiguous(memory_format=torch.channels_last)
  return model, images, labels


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--model', default='seresnet50', help='A timm model name.')
  parser.add_argument('--mode', choices=('forward', 'train'), default='forward')
  parser.add_argument('--batch_size', type=int, default=8)
  parser.add_argument('--image_size', type=int, default=224)
  parser.add_argument('--num_classes', type=int, default=1000)
  parser.add_argument('--threads', type=int, default=1, help='torch.set_num_threads.')
  parser.add_argument('--memory_format', choices=('auto', 'nchw', 'channels_last'),
                      default='auto')
  args = parser.parse_args(argv)

  import torch  # pylint: disable=g-import-not-at-top
  import timm  # pylint: disable=g-import-not-at-top
  torch.set_num_threads(args.threads)
  try:
    torch.set_num_interop_threads(1)
  except RuntimeError:
    pass  # Already set (only possible before any parallel work).

  formats = (['nchw', 'channels_last'] if args.memory_format == 'auto'
             else [args.memory_format])
  trials = {}
  chosen = None
  for memory_format in formats:
    model, images, labels = _build(torch, timm, args, memory_format)
    step = _make_step(torch, model, args.mode, images, labels)
    step()  # Warm-up: allocations, algorithm choice.
    start = time.perf_counter()
    for _ in range(FORMAT_TRIAL_STEPS if len(formats) > 1 else 0):
      step()
    trials[memory_format] = (time.perf_counter() - start) / FORMAT_TRIAL_STEPS
    if chosen is None or trials[memory_format] < trials[chosen[0]]:
      chosen = (memory_format, model, images, step)
  memory_format, model, images, step = chosen
  forward, first_conv = _count_multiply_adds(torch, model, images)
  if args.mode == 'train':
    model.train()
  multiply_adds = forward if args.mode == 'forward' else 3 * forward - first_conv
  print(json.dumps({
      'ready': True, 'model': args.model, 'mode': args.mode,
      'memory_format': memory_format,
      'format_trial_seconds_per_step': trials if len(formats) > 1 else None,
      'multiply_adds_per_step': multiply_adds, 'threads': torch.get_num_threads(),
      'omp_wait_policy': os.environ.get('OMP_WAIT_POLICY'),
      'torch': torch.__version__, 'timm': timm.__version__}), flush=True)

  for line in sys.stdin:
    command = line.strip()
    if command == 'step':
      step()
      sys.stdout.write('ok\n')
      sys.stdout.flush()
    elif command == 'quit':
      print(json.dumps({'peak_rss_mb': _peak_rss_mb()}), flush=True)
      return 0
    else:
      print(json.dumps({'error': 'unknown command %r' % command}), flush=True)
      return 2
  return 0


if __name__ == '__main__':
  sys.exit(main())
