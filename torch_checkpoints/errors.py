"""The two ways a conversion fails, with the exit code of each.

`UsageError` (exit 2): the command line is wrong (a missing or unknown flag
value, an input that does not exist, an output directory that does not exist).
`ConversionError` (exit 1): the input file cannot be converted as asked (not a
readable torch/safetensors file, unsafe, not a state dict, an unknown key
layout, or a network that differs from `--model_name` / `--num_classes`).
Both carry one line of text that names the file and what to do.
"""


class ConversionError(Exception):
  """The input cannot be converted; the message is one line."""
  exit_code = 1


class UsageError(ConversionError):
  """The command line is wrong; the message is one line."""
  exit_code = 2
