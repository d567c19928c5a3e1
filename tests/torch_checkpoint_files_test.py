"""torch_checkpoints.torch_file / safetensors_file: reading without torch.

Round trips through both torch formats and safetensors (shared storages,
views, non-contiguous strides, every supported dtype), and hostile or broken
files: a pickle that calls os.system is refused before anything runs, a
truncated file, a storage or tensor that reaches past the data, a pickled
model, something that is not a torch file at all.
"""
import argparse
import collections
import os
import pickle
import zipfile

import numpy as np
import pytest

from tests import torch_files_testlib as tl
from torch_checkpoints import layouts
from torch_checkpoints import reader
from torch_checkpoints import safetensors_file
from torch_checkpoints import torch_file
from torch_checkpoints.errors import ConversionError

TORCH_FORMATS = ('zip', 'legacy')


def _mixed_state():
  rng = np.random.default_rng(3)
  return collections.OrderedDict([
      ('conv.weight', rng.standard_normal((4, 3, 3, 3)).astype(np.float32)),
      ('fc.weight', rng.standard_normal((5, 7)).astype(np.float32)),
      ('half', rng.standard_normal((6,)).astype(np.float16)),
      ('double', rng.standard_normal((2, 3)).astype(np.float64)),
      ('bn.num_batches_tracked', np.array(12, np.int64)),
      ('empty', np.zeros((0, 3), np.float32)),
  ])


def _read(path):
  with open(path, 'rb') as f:
    data = f.read()
  if path.endswith('.safetensors'):
    return safetensors_file.read_bytes(data)
  return torch_file.read_bytes(data)[0]


@pytest.mark.parametrize('fmt', TORCH_FORMATS)
@pytest.mark.parametrize('shared', [False, True])
def test_torch_formats_round_trip_every_dtype_and_layout(tmp_path, fmt,
                                                         shared):
  """Shared storages (offsets in zip, storage views in legacy) and transposed
  2-D tensors (stride (1, rows)) read back exactly, in file order."""
  state = _mixed_state()
  path = str(tmp_path / 'x.pth')
  tl.WRITERS[fmt](state, path, shared=shared, transpose_2d=shared)
  got, file_format = torch_file.read(path)
  assert file_format == 'torch-' + fmt
  assert list(got) == list(state)
  for name, array in state.items():
    assert got[name].dtype == array.dtype, name
    assert got[name].shape == array.shape, name
    np.testing.assert_array_equal(got[name], array)


def test_safetensors_round_trip(tmp_path):
  state = _mixed_state()
  path = str(tmp_path / 'x.safetensors')
  tl.write_safetensors(state, path)
  got = _read(path)
  assert sorted(got) == sorted(state)
  for name, array in state.items():
    assert got[name].dtype == array.dtype and got[name].shape == array.shape
    np.testing.assert_array_equal(got[name], array)


@pytest.mark.parametrize('fmt', TORCH_FORMATS)
def test_bfloat16_storages_widen_to_float32(tmp_path, fmt):
  values = np.array([1.5, -2.0, 0.15625, 2.0**100, 0.0], np.float32)
  bits = (values.view(np.uint32) >> 16).astype(np.uint16)
  path = str(tmp_path / 'bf16.pth')
  tl.WRITERS[fmt]({'w': bits}, path)
  got = torch_file.read(path)[0]['w']
  assert got.dtype == np.float32
  np.testing.assert_array_equal(got, values)


@pytest.mark.slow
@pytest.mark.parametrize('fmt', TORCH_FORMATS)
def test_a_pickle_calling_os_system_is_refused_and_nothing_runs(tmp_path,
                                                                fmt):
  marker = tmp_path / 'pwned'
  hostile = tl.pickle_torch(
      collections.OrderedDict(w=tl.Call('os', 'system', 'touch %s' % marker)),
      legacy=(fmt == 'legacy'))
  assert b'system' in hostile
  path = str(tmp_path / 'evil.pth')
  tl.WRITERS[fmt]({'w': np.zeros(2, np.float32)}, path, pickled=hostile)
  with pytest.raises(torch_file.TorchFileError,
                     match=r'refusing to unpickle os\.system'):
    torch_file.read(path)
  assert not marker.exists()


@pytest.mark.parametrize('module,name', [
    ('builtins', 'eval'), ('subprocess', 'Popen'), ('posix', 'system'),
    ('torch', 'load'), ('numpy', 'load')])
def test_only_state_dict_names_unpickle(tmp_path, module, name):
  path = str(tmp_path / 'evil.pth')
  tl.write_legacy({}, path, pickled=tl.pickle_torch(
      {'w': tl.Call(module, name, 'x')}, legacy=True))
  with pytest.raises(torch_file.TorchFileError,
                     match='refusing to unpickle %s.%s' % (module, name)):
    torch_file.read(path)


def test_a_pickled_model_object_is_refused_with_a_hint(tmp_path):
  path = str(tmp_path / 'model.pth')
  tl.write_zip({}, path, pickled=tl.pickle_torch(
      tl.Call('torchvision.models.resnet', 'ResNet'), legacy=False))
  with pytest.raises(torch_file.TorchFileError,
                     match=r'ResNet .*save model\.state_dict\(\) instead'):
    torch_file.read(path)


def test_the_shared_stand_ins_cannot_be_modified_by_the_pickle(tmp_path):
  """BUILD on a stand-in the unpickler hands out (here FloatStorage) would
  change it for every later file; it fails instead."""
  builder = (b'\x80\x02ctorch\nFloatStorage\n}X\x05\x00\x00\x00dtypeX\x02'
             b'\x00\x00\x00<i8sb.')
  path = str(tmp_path / 'poison.pth')
  tl.write_zip({}, path, pickled=builder)
  with pytest.raises(torch_file.TorchFileError, match='corrupt'):
    torch_file.read(path)
  # The same through BUILD's slot state on the Namespace stand-in class.
  tl.write_zip({}, path, pickled=(
      b'\x80\x02cargparse\nNamespace\nN}X\x08\x00\x00\x00__init__K\x01s'
      b'\x86b.'))
  with pytest.raises(torch_file.TorchFileError, match='corrupt'):
    torch_file.read(path)
  tl.write_zip({'w': np.arange(3, dtype=np.float32)}, path)
  np.testing.assert_array_equal(torch_file.read(path)[0]['w'], [0, 1, 2])


@pytest.mark.parametrize('fmt', TORCH_FORMATS + ('safetensors',))
@pytest.mark.parametrize('keep', [0.3, 0.9, 0.999])
def test_truncated_files_fail_with_a_message(tmp_path, fmt, keep):
  state = tl.random_state_dict('timm', depth_multiplier=0.125, num_classes=4)
  path = str(tmp_path / ('x.safetensors' if fmt == 'safetensors' else
                         'x.pth'))
  tl.WRITERS[fmt](state, path)
  with open(path, 'rb') as f:
    data = f.read()
  with open(path, 'wb') as f:
    f.write(data[:int(len(data) * keep)])
  with pytest.raises(ConversionError, match=r'x\.(pth|safetensors): '
                     r'.*(truncated|corrupt)'):
    reader.read_state_dict(path)


def test_a_zip_storage_smaller_than_its_tensors_say_is_refused(tmp_path):
  path = str(tmp_path / 'short.pth')
  storage = tl.Storage('0', 'FloatStorage', 8)  # The record has 4 floats.
  tl.write_zip({'w': np.zeros(4, np.float32)}, path, pickled=tl.pickle_torch(
      {'w': tl.Tensor(storage, 0, (8,), (1,))}, legacy=False))
  with pytest.raises(torch_file.TorchFileError,
                     match=r'archive/data/0 holds 16 bytes, its 8 elements '
                     r'of FloatStorage need 32'):
    torch_file.read(path)


def test_a_legacy_storage_longer_than_the_file_is_refused(tmp_path):
  path = str(tmp_path / 'long.pth')
  tl.write_legacy({'w': np.zeros(1000, np.float32)}, path)
  with open(path, 'rb') as f:
    data = f.read()
  with open(path, 'wb') as f:
    f.write(data[:-8])
  with pytest.raises(torch_file.TorchFileError,
                     match=r'truncated file: storage 0 needs 4000 bytes, '
                     r'3992 remain'):
    torch_file.read(path)


@pytest.mark.parametrize('offset,size,stride', [
    (2, (4,), (1,)),        # Runs off the end.
    (0, (2, 3), (3, 1)),    # 6 elements of 4.
    (0, (9, 9), (0, 0)),    # Broadcast far beyond the storage.
])
def test_a_tensor_reaching_past_its_storage_is_refused(tmp_path, offset, size,
                                                       stride):
  path = str(tmp_path / 'past.pth')
  storage = tl.Storage('0', 'FloatStorage', 4)
  tl.write_zip({'w': np.zeros(4, np.float32)}, path, pickled=tl.pickle_torch(
      {'w': tl.Tensor(storage, offset, size, stride)}, legacy=False))
  with pytest.raises(torch_file.TorchFileError,
                     match=r'tensor w .*(reaches past|more elements than) its '
                     r'storage'):
    torch_file.read(path)


def test_compressed_zip_records_are_refused(tmp_path):
  """A deflated record could claim far more bytes than the file holds."""
  path = str(tmp_path / 'bomb.pth')
  with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as archive:
    archive.writestr('archive/data.pkl', tl.pickle_torch(
        {'w': tl.Tensor(tl.Storage('0', 'FloatStorage', 1 << 24), 0,
                        (1 << 24,), (1,))}, legacy=False))
    archive.writestr('archive/data/0', bytes(1 << 26))
  assert os.path.getsize(path) < 1 << 20
  with pytest.raises(torch_file.TorchFileError,
                     match=r'compressed records in the archive '
                     r'\(archive/data.pkl, archive/data/0\)'):
    torch_file.read(path)


def test_files_that_are_not_torch_files(tmp_path):
  cases = {
      'text.pth': b'not a checkpoint, just some text\n' * 4,
      'plain_pickle.pth': pickle.dumps({'a': 1}, protocol=2),
      'no_data_pkl.pth': None,
  }
  with zipfile.ZipFile(str(tmp_path / 'no_data_pkl.pth'), 'w') as archive:
    archive.writestr('x/readme.txt', 'hello')
  for name, data in cases.items():
    if data is not None:
      (tmp_path / name).write_bytes(data)
    with pytest.raises(ConversionError, match=r'%s: .*not a torch file' %
                       name):
      reader.read_state_dict(str(tmp_path / name))


def test_a_list_of_tensors_is_not_a_state_dict(tmp_path):
  path = str(tmp_path / 'list.pth')
  storage = tl.Storage('0', 'FloatStorage', 4)
  tl.write_legacy({'w': np.zeros(4, np.float32)}, path, pickled=tl.pickle_torch(
      [tl.Tensor(storage, 0, (4,), (1,))], legacy=True))
  with pytest.raises(ConversionError, match='not a state dict: the file holds '
                     'a list'):
    reader.read_state_dict(path)


def test_a_training_checkpoint_with_its_arguments_reads(tmp_path):
  """timm's training checkpoints hold the argparse.Namespace of the run."""
  state = tl.random_state_dict('timm', depth_multiplier=0.125, num_classes=3)
  obj, _ = tl._layout_tensors(state, False, False, False)  # pylint: disable=protected-access
  path = str(tmp_path / 'checkpoint-9.pth.tar')
  tl.write_zip(state, path, pickled=tl.pickle_torch(
      {'epoch': 9, 'arch': 'seresnet14', 'state_dict': obj,
       'args': argparse.Namespace(lr=0.1, model='seresnet14')},
      legacy=False))
  got = reader.read_state_dict(path)[0]
  assert list(got) == list(state)


@pytest.mark.parametrize('wrap', ['state_dict', 'model'])
def test_training_checkpoint_wrappers_and_dataparallel_prefix(tmp_path, wrap):
  state = collections.OrderedDict(
      ('module.' + k, v) for k, v in tl.random_state_dict(
          'timm', depth_multiplier=0.125, num_classes=3).items())
  path = str(tmp_path / 'train.pth')
  tl.write_zip(state, path, wrap=wrap)
  got, file_format, digest = reader.read_state_dict(path)
  assert file_format == 'torch-zip' and len(digest) == 64
  assert list(got) == [k[len('module.'):] for k in state]
  assert layouts.recognise(got).name == 'timm'
