# coding=utf-8
"""Reading text and writing outputs safely, through tf.io.gfile (so gs:// and
ram:// work).

`utf8_lines` reads a data file line by line, so a bad byte is reported with
its line number.

The one way files and directories are written in this project: a file is
written under a temporary name and renamed into place (`atomic_path`,
`atomic_write`, `write_json`, `write_lines`); a directory is assembled beside
its final place and moved there (`temporary_dir`, `fresh_dir`,
`replace_dir`). A crash never leaves a half-written output under its final
name.
"""

import contextlib
import json
import os

import tensorflow.compat.v1 as tf


@contextlib.contextmanager
def atomic_path(path):
  """Yields a temporary path to write; it becomes `path` when the block succeeds.

  A crash or error never leaves a half-written file under the final name (the
  temporary file is removed on error).
  """
  tmp_path = path + ".tmp"
  try:
    yield tmp_path
  except BaseException:
    if tf.io.gfile.exists(tmp_path):
      tf.io.gfile.remove(tmp_path)
    raise
  tf.io.gfile.rename(tmp_path, path, overwrite=True)


@contextlib.contextmanager
def atomic_write(path, mode="w"):
  """Opens `path` for writing through atomic_path (tf.io.gfile, so gs://)."""
  with atomic_path(path) as tmp_path:
    with tf.io.gfile.GFile(tmp_path, mode) as f:
      yield f


def write_json(path, value, indent=None):
  with atomic_write(path) as f:
    json.dump(value, f, ensure_ascii=False, indent=indent)


def write_lines(path, lines):
  """Writes each string of `lines` followed by a newline."""
  with atomic_write(path) as f:
    for line in lines:
      f.write(line + "\n")


def temporary_dir(path):
  """Where a directory is assembled before replace_dir moves it to `path`:
  a hidden sibling whose name does not start with `path` (prefix-matching
  stores such as ram:// would otherwise see it inside `path`)."""
  path = path.rstrip("/")
  return os.path.join(os.path.dirname(path),
                      ".%s.tmp" % os.path.basename(path))


def _files_below(root):
  """Every file below `root`, as paths relative to it (listdir rather than
  walk: walk misreads prefix-matching stores such as ram://)."""
  files = []
  for name in tf.io.gfile.listdir(root):
    name = name.rstrip("/")
    path = os.path.join(root, name)
    if tf.io.gfile.isdir(path):
      files.extend(os.path.join(name, child) for child in _files_below(path))
    else:
      files.append(name)
  return files


def remove_tree(path):
  """Deletes a directory tree file by file (some filesystems, e.g. ram://,
  refuse a recursive delete)."""
  if not tf.io.gfile.isdir(path):
    return
  for name in _files_below(path):
    tf.io.gfile.remove(os.path.join(path, name))
  try:
    tf.io.gfile.rmtree(path)
  except tf.errors.NotFoundError:
    pass  # only implicit directories were left


def _copy_tree(source, target, last=()):
  """Copies every file of `source` below `target`; names in `last` go last."""
  names = sorted(_files_below(source),
                 key=lambda name: os.path.basename(name) in last)
  for name in names:
    target_path = os.path.join(target, name)
    tf.io.gfile.makedirs(os.path.dirname(target_path))
    tf.io.gfile.copy(os.path.join(source, name), target_path, overwrite=True)


def replace_dir(tmp_dir, final_dir, last=()):
  """Moves the completed directory `tmp_dir` to `final_dir`, replacing it.

  Where the filesystem cannot rename directories (object stores, ram://) the
  files are copied instead, those named in `last` (the files whose presence
  says the directory is complete) after all others.
  """
  remove_tree(final_dir)
  try:
    tf.io.gfile.rename(tmp_dir, final_dir)
    if not tf.io.gfile.exists(tmp_dir):
      return
    # Renamed the directory entry but not its files (ram://): copy them.
  except tf.errors.OpError:
    pass
  _copy_tree(tmp_dir, final_dir, last)
  remove_tree(tmp_dir)


def fresh_dir(path):
  """Creates `path` empty (removing what an interrupted run left there)."""
  remove_tree(path)
  tf.io.gfile.makedirs(path)
  return path


def utf8_lines(path):
  """Yields (line_number, text) for every line of a UTF-8 file, without its
  line ending; a leading byte-order mark is dropped. A line that is not valid
  UTF-8 yields its UnicodeDecodeError instead of the text, so the caller can
  name the line."""
  with tf.io.gfile.GFile(path, "rb") as f:
    for line_number, raw in enumerate(f, start=1):
      if line_number == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
      try:
        yield line_number, raw.decode("utf-8").rstrip("\r\n")
      except UnicodeDecodeError as e:
        yield line_number, e
