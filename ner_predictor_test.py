# coding=utf-8
"""Tests of ner_predictor.py on a SavedModel whose "model" tags each piece by
a fixed table, so offsets, windows and merging are checked exactly (the
trained round trip is in run_ner_test.py)."""

import os

import pytest
import tensorflow.compat.v1 as tf

import export
import ner_predictor

tf.disable_eager_execution()

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "甲", "乙", "子",
         "abc", "##de"]
LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
# The tag of each vocab id: 甲 starts a PER, 乙 continues it, "abc" starts a
# LOC and "##de" would continue it (a second piece: masked out).
TAG_OF_ID = [0, 0, 0, 0, 0, 1, 2, 0, 3, 4]


def _export(directory, info):
  vocab_file = os.path.join(directory, "vocab.txt")
  with open(vocab_file, "w", encoding="utf-8") as f:
    f.write("\n".join(VOCAB) + "\n")
  with tf.Graph().as_default():
    tf.train.get_or_create_global_step()
    tf.get_variable("unused", [1])
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      checkpoint = tf.train.Saver().save(sess,
                                         os.path.join(directory, "model.ckpt"))

  def build():
    input_ids, input_mask, segment_ids = export.input_placeholders()
    label_mask = tf.placeholder(tf.int32, [None, None], name="label_mask")
    # The checkpoint's variables, restored by the export (and unused).
    tf.train.get_or_create_global_step()
    tf.get_variable("unused", [1])
    tag_ids = tf.gather(tf.constant(TAG_OF_ID, tf.int32), input_ids)
    return (dict(input_ids=input_ids, input_mask=input_mask,
                 segment_ids=segment_ids, label_mask=label_mask),
            dict(tag_ids=tag_ids * label_mask * input_mask))

  return export.export_saved_model(build, checkpoint,
                                   os.path.join(directory, "export"), info,
                                   [vocab_file, None])


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
  directory = str(tmp_path_factory.mktemp("ner_predictor"))
  _export(directory, dict(task="ner", labels=LABELS, scheme="bio",
                          do_lower_case=True, max_seq_length=8))
  predictor = ner_predictor.NerPredictor(os.path.join(directory, "export"),
                                         batch_size=3)
  yield predictor
  predictor.close()


def test_entities_have_exact_character_offsets(predictor):
  text = "子甲乙 子ABCde子"
  assert predictor.predict_text(text) == [
      {"type": "PER", "start": 1, "end": 3, "text": "甲乙"},
      {"type": "LOC", "start": 5, "end": 10, "text": "ABCde"}]
  assert predictor.predict([]) == []
  assert predictor.predict_text("") == []


def test_long_text_is_windowed_and_every_character_tagged(predictor):
  # 24 pieces, 6 per window: 7 windows, every entity found once.
  text = "子甲乙乙" * 6
  entities = predictor.predict_text(text)
  assert [(e["start"], e["end"]) for e in entities] == [
      (4 * i + 1, 4 * i + 4) for i in range(6)]
  examples, word_tags = predictor.predict_tags([text, "甲"])
  assert len(word_tags[0]) == len(text)
  assert word_tags[1] == ["B-PER"]


def test_rejects_exports_of_other_scripts(tmp_path):
  _export(str(tmp_path), dict(labels=["0", "1"], do_lower_case=True,
                              max_seq_length=8))
  with pytest.raises(ValueError, match="not a run_ner.py export"):
    ner_predictor.NerPredictor(str(tmp_path / "export"))
  with pytest.raises(ValueError, match="neither a SavedModel"):
    ner_predictor.NerPredictor(str(tmp_path))

