"""Converting trained PyTorch checkpoints into Slim-named TF checkpoints.

One module per job:
  torch_file        reads torch `.pth`/`.pt`/`.bin` files (zip and legacy
                    formats) through a restricted unpickler, without torch.
  safetensors_file  reads `.safetensors` files (numpy, no torch).
  layouts           recognises pretrainedmodels / timm / torchvision key
                    layouts, infers the network and maps names and shapes.
  checkpoint_writer writes the TF checkpoint and its sidecar atomically.
  sidecar           the sidecar JSON beside a converted checkpoint
                    (`read_sidecar` for the scripts).
  convert           the whole conversion, as used by
                    `convert_torch_checkpoint.py`.
"""
