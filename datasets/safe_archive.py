"""Tar extraction that is safe with untrusted archives.

Every member is checked before anything is written: an absolute path, a `..`
component, a link whose target leaves the destination, or a device/FIFO file
makes the whole extraction fail with `UnsafeArchiveError` naming the member, and
nothing is extracted. What passes is then extracted with Python's tarfile `data`
filter (PEP 706) as a second line of defence; it also drops set-uid bits and
foreign ownership.

    extract_tar('/downloads/flower_photos.tgz', '/tmp/flowers/.extract')
"""
import os
import posixpath
import tarfile

from datasets import errors


def _one_line(error):
  return ' '.join(str(error).split())


def _is_absolute(name):
  return (name.startswith(('/', '\\')) or
          (len(name) > 1 and name[1] == ':') or  # C:\ or C:/
          os.path.isabs(name))


def _escapes(parts):
  """Whether a normalised list of path parts climbs above its start."""
  return bool(parts) and parts[0] == '..'


def _normalised_parts(path):
  normal = posixpath.normpath(path.replace('\\', '/'))
  return [] if normal == '.' else normal.split('/')


def unsafe_reason(member):
  """Returns why a tar member is unsafe to extract, or None if it is safe.

  Example:
    unsafe_reason(tarfile.TarInfo('../evil'))  # "has a '..' component"
  """
  name = member.name
  if not name or '\x00' in name:
    return 'has an empty or NUL-containing name'
  if _is_absolute(name):
    return 'has an absolute path'
  if '..' in name.replace('\\', '/').split('/'):
    return "has a '..' component"
  if member.ischr() or member.isblk() or member.isfifo():
    return 'is a device or FIFO file'
  if not (member.isfile() or member.isdir() or member.issym() or
          member.islnk()):
    return 'is not a regular file, directory or link'
  if member.issym() or member.islnk():
    target = member.linkname
    if not target or _is_absolute(target):
      return 'is a link to an absolute path (%r)' % target
    if member.issym():  # Relative to the link's own directory.
      resolved = posixpath.join(posixpath.dirname(name), target)
    else:  # Hard links name an archive member.
      resolved = target
    if _escapes(_normalised_parts(resolved)):
      return 'is a link that escapes the destination (-> %r)' % target
  return None


def check_members(archive):
  """Returns the members of an open `TarFile` after checking every one.

  Raises:
    UnsafeArchiveError: naming the first unsafe member.

  Example:
    with tarfile.open(path) as tar:
      members = check_members(tar)
  """
  members = archive.getmembers()
  for member in members:
    reason = unsafe_reason(member)
    if reason:
      raise errors.UnsafeArchiveError(
          'refusing to extract %s: member %r %s; nothing was extracted' %
          (archive.name, member.name, reason))
  return members


def extract_tar(archive_path, dest_dir):
  """Extracts a (possibly compressed) tar archive into `dest_dir`, safely.

  Args:
    archive_path: a .tar, .tar.gz/.tgz, .tar.bz2 or .tar.xz file.
    dest_dir: the directory to extract into (created if needed).

  Returns:
    `dest_dir`.

  Raises:
    UnsafeArchiveError: if any member is unsafe (nothing is extracted then).
    DatasetError: if the file is missing or is not a tar archive.

  Example:
    root = extract_tar('cifar-10-python.tar.gz', scratch_dir)
  """
  if not os.path.isfile(archive_path):
    raise errors.DatasetError('archive %s does not exist' % archive_path)
  try:
    archive = tarfile.open(archive_path, 'r:*')
  except tarfile.ReadError:
    # tarfile's message lists every compression it tried, one per line.
    raise errors.DatasetError(
        '%s is not a readable tar archive (plain, gzip, bz2 or xz): it is '
        'corrupt or of another kind; fetch it again' % archive_path) from None
  except (tarfile.TarError, OSError, EOFError) as e:
    raise errors.DatasetError('%s is not a readable tar archive: %s' %
                              (archive_path, _one_line(e))) from None
  with archive:
    try:
      members = check_members(archive)
    except (tarfile.TarError, OSError, EOFError) as e:
      raise errors.DatasetError('%s is corrupt: %s; fetch it again' %
                                (archive_path, _one_line(e))) from None
    os.makedirs(dest_dir, exist_ok=True)
    try:
      if hasattr(tarfile, 'data_filter'):
        archive.extractall(dest_dir, members=members, filter='data')
      else:  # Python without PEP 706: our own checks above still apply.
        archive.extractall(dest_dir, members=members)
    except tarfile.FilterError as e:
      raise errors.UnsafeArchiveError('refusing to extract %s: %s' %
                                      (archive_path, e)) from None
    except (tarfile.TarError, OSError, EOFError) as e:
      raise errors.DatasetError('could not extract %s: %s' %
                                (archive_path, _one_line(e))) from None
  return dest_dir
