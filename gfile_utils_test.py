# coding=utf-8
"""Tests for gfile_utils: outputs appear whole or not at all, on local and
registered filesystems."""

import json
import os

import pytest
import tensorflow.compat.v1 as tf

import gfile_utils


def test_atomic_write_leaves_nothing_on_error(tmp_path):
  path = str(tmp_path / "out.txt")
  gfile_utils.write_lines(path, ["old"])
  with pytest.raises(RuntimeError):
    with gfile_utils.atomic_write(path) as f:
      f.write("half")
      raise RuntimeError("crash")
  assert open(path).read() == "old\n"
  assert sorted(os.listdir(tmp_path)) == ["out.txt"]


def test_atomic_write_works_on_registered_filesystems():
  # ram:// is TensorFlow's in-memory filesystem: what works there goes through
  # tf.io.gfile only, as gs:// needs.
  path = "ram://finetune_data_test/out.json"
  gfile_utils.write_json(path, {"a": "中"})
  with tf.io.gfile.GFile(path) as f:
    assert json.load(f) == {"a": "中"}
  assert not tf.io.gfile.exists(path + ".tmp")




def _write_tree(root):
  for name in ("a.txt", "sub/b.txt", "marker"):
    path = os.path.join(root, name)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
      f.write(name)


@pytest.mark.parametrize("root", ["local", "ram://gfile_utils_test"])
def test_replace_dir_moves_a_whole_tree(root, tmp_path):
  # ram:// cannot rename directories: the copy fallback is taken there.
  root = str(tmp_path) if root == "local" else root
  final = os.path.join(root, "best")
  _write_tree(final)
  tmp_dir = gfile_utils.fresh_dir(gfile_utils.temporary_dir(final))
  assert not tmp_dir.startswith(final)
  with tf.io.gfile.GFile(os.path.join(tmp_dir, "new.txt"), "w") as f:
    f.write("new")
  _write_tree(os.path.join(tmp_dir, "x"))
  gfile_utils.replace_dir(tmp_dir, final, last=("marker",))
  assert sorted(gfile_utils._files_below(final)) == [  # pylint: disable=protected-access
      "new.txt", "x/a.txt", "x/marker", "x/sub/b.txt"]
  assert not tf.io.gfile.exists(tmp_dir)
