# coding=utf-8
"""Named-entity recognition on raw text with a model exported by run_ner.py.

Loads the SavedModel once (export.SavedModelRunner: one session, graph
finalised) and tags raw text: the text is cut into units with exact
character offsets as ner_data does for CLUENER (each Chinese character alone,
Latin/digit runs whole), texts longer than the model's max_seq_length are
split into overlapping windows and merged, and the tags become entities with
character offsets into the original string.

From Python:
  from ner_predictor import NerPredictor
  predictor = NerPredictor("out/export/ner")
  predictor.predict_text("张三在北京买了iPhone12")
  # [{"type": "PER", "start": 0, "end": 2, "text": "张三"}, ...]
  predictor.predict(["text one", "text two"])   # one list per text

`end` is exclusive (text[start:end] is the entity).

As a command (texts as arguments, or one text per line on stdin; prints one
JSON list of entities per text):
  python ner_predictor.py --saved_model=out/export/ner 张三在北京
  python ner_predictor.py --saved_model=out/export/ner < texts.txt
"""

import json
import sys

from absl import app
from absl import flags
import numpy as np

import export
import ner_data
import shared_flags

FLAGS = flags.FLAGS

shared_flags.define("saved_model", "num_threads", "batch_size")


class NerPredictor(object):
  """Tags raw texts with one loaded SavedModel of run_ner.py."""

  def __init__(self, saved_model, num_threads=0, batch_size=32):
    self._runner = export.SavedModelRunner(saved_model,
                                           num_threads=num_threads)
    info = self._runner.info
    if info.get("task") != "ner":
      raise ValueError("%s is not a run_ner.py export (its model_info.json "
                       "says task=%r): export with run_ner.py --export_dir." %
                       (self._runner.path, info.get("task")))
    self.labels = info["labels"]
    self.scheme = info["scheme"]
    self.max_seq_length = info["max_seq_length"]
    self.tokenizer = self._runner.tokenizer
    self.batch_size = max(int(batch_size), 1)

  def _tag_ids(self, records):
    """The model's tag ids for each record (window), batch by batch."""
    outputs = []
    for start in range(0, len(records), self.batch_size):
      batch = records[start:start + self.batch_size]
      names = ("input_ids", "input_mask", "segment_ids", "label_mask")
      arrays = export.pad_batch([[r[name] for r in batch] for name in names])
      tag_ids = self._runner.run(dict(zip(names, arrays)),
                                 ["tag_ids"])["tag_ids"]
      outputs.extend(tag_ids)
    return outputs

  def predict_tags(self, texts):
    """(examples, word tags per text): the units of each text and their
    predicted tags."""
    examples = [ner_data.text_example(text, "text-%d" % i)
                for i, text in enumerate(texts)]
    records = list(ner_data.example_records(examples, self.tokenizer, {},
                                            self.max_seq_length))
    tag_ids = self._tag_ids(records)
    windows = [dict(record, tag_ids=np.asarray(ids))
               for record, ids in zip(records, tag_ids)]
    merged = ner_data.merge_windows([len(e.words) for e in examples], windows)
    return examples, [[self.labels[i] for i in ids] for ids in merged]

  def predict(self, texts):
    """A list of entities per text: dicts with type, start, end (exclusive,
    character offsets) and text."""
    texts = [str(text) for text in texts]
    if not texts:
      return []
    examples, word_tags = self.predict_tags(texts)
    return [[{"type": entity_type, "start": start, "end": end,
              "text": example.text[start:end]}
             for entity_type, start, end in ner_data.char_entities(example,
                                                                   tags)]
            for example, tags in zip(examples, word_tags)]

  def predict_text(self, text):
    """The entities of one text."""
    return self.predict([text])[0]

  def close(self):
    self._runner.close()


def main(argv):
  if not FLAGS.saved_model:
    raise app.UsageError("--saved_model is required.")
  predictor = NerPredictor(FLAGS.saved_model, FLAGS.num_threads,
                           FLAGS.batch_size)
  texts = argv[1:]
  if texts:
    for entities in predictor.predict(texts):
      print(json.dumps(entities, ensure_ascii=False))
    return
  for line in sys.stdin:
    text = line.rstrip("\r\n")
    print(json.dumps(predictor.predict_text(text), ensure_ascii=False),
          flush=True)


if __name__ == "__main__":
  app.run(main)
