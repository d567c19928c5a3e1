"""Converting trained PyTorch checkpoints into Slim-named TF checkpoints.

One module per job:
  torch_file        reads torch `.pth`/`.pt`/`.bin` files (zip and legacy
                    formats) through a restricted unpickler, without torch.
  safetensors_file  reads `.safetensors` files (numpy, no torch).
  reader            either of the two by content, unwrapping training
                    checkpoints (no TensorFlow).
  layouts           recognises pretrainedmodels / timm / torchvision key
                    layouts, infers the network and maps names and shapes.
  target            the target network's variables, from its builder.
  checkpoint_writer writes the TF checkpoint and its sidecar atomically.
  sidecar           the sidecar JSON beside a converted checkpoint
                    (`read_sidecar` for the scripts).
  convert           the whole conversion, as used by
                    `convert_torch_checkpoint.py`.
  errors            the two failures and their exit codes.
"""
