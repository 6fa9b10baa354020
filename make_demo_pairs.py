# coding=utf-8
"""Builds the demo's fine-tuning tasks from the bundled pretraining sample.

The sample (data/sample_text_zh.txt: one sentence per line, a blank line
between chapters) has no labels, so the demo makes tasks it can answer
itself. Chapters, not sentences, are split between train and dev.

--task=altered (what run_demo.sh uses): is this sentence as the author wrote
  it? generic_single rows `text_a<TAB>label`:
    label 1: a sentence of the novel, unchanged;
    label 0: the same kind of sentence with a sixth of its characters
             (--alter_fraction; the demo replaces a third; at least two,
             never punctuation) replaced by characters drawn
             from the same chapter's text, so character frequencies give
             nothing away: only knowing which characters fit their context
             does. That is what masked-LM pretraining learns, and a few
             hundred labelled sentences are far too few to learn it from
             scratch, so the task shows whether pretraining paid off.
  The demo builds it from the chapters held out from pretraining (train from
  the first of them, dev from the last --num_dev_chapters).

--task=retold: an LCQMC-like pair task, "is B a retelling of A?" (generic_pair
  rows `text_a<TAB>text_b<TAB>label`):
    label 1: B is A with about a fifth of its characters dropped and a few
             replaced by characters of another sentence;
    label 0: B is a different sentence near A in the same chapter.
  Surface overlap answers it, so random initialisation learns it too
  (benchmark_dynamic_length.py uses it for its realistic lengths).

Half the examples of either task are of each label. Files have a header.

  python make_demo_pairs.py --corpus_file=demo_output/pretrain_data/heldout.txt \\
      --pairs_dir=demo_output/task --num_dev_chapters=2 --alter_fraction=0.3333
  python run_classifier.py --task_name=generic_single \\
      --data_dir=demo_output/task ...
"""

import os
import unicodedata

from absl import app
from absl import flags
import numpy as np
import tensorflow.compat.v1 as tf

FLAGS = flags.FLAGS

# Flag names are this script's own: tests import it next to scripts that
# declare input_file/output_dir, and absl flags live in one global registry.
flags.DEFINE_string("corpus_file", "data/sample_text_zh.txt",
                    "Text with one sentence per line and blank lines between "
                    "chapters (documents).")
flags.DEFINE_string("pairs_dir", None, "Where train.tsv and dev.tsv go.")
flags.DEFINE_enum("task", "altered", ["altered", "retold"],
                  "Which task to build (see the module docstring).")
flags.DEFINE_integer("num_dev_chapters", 2,
                     "Chapters (from the end of the file) held out for dev.")
flags.DEFINE_integer("max_train_pairs", 4000, "Cap on training examples.")
flags.DEFINE_integer("max_dev_pairs", 800, "Cap on dev examples.")
flags.DEFINE_integer("min_sentence_chars", 8,
                     "Sentences shorter than this are not used (headings, "
                     "exclamations).")
flags.DEFINE_integer("pairs_seed", 12345, "Seed for sampling and shuffling.")
flags.DEFINE_float("alter_fraction", 1.0 / 6,
                   "--task=altered: fraction of a sentence's content "
                   "characters replaced in an altered sentence.")


def read_chapters(path, min_chars=1):
  """Returns a list of chapters, each a list of sentences (file order)."""
  chapters, current = [], []
  with tf.io.gfile.GFile(path, "r") as f:
    for line in f:
      sentence = line.strip()
      if not sentence:
        if current:
          chapters.append(current)
        current = []
      elif len(sentence) >= min_chars:
        current.append(sentence)
  if current:
    chapters.append(current)
  return chapters


# ----------------------------------------------------------------------------
# The "altered" task.


def is_content(character):
  """Letters and digits (CJK characters included); not punctuation."""
  return unicodedata.category(character)[0] in ("L", "N")


def alter(sentence, pool, rng, fraction=1.0 / 6):
  """`sentence` with ~`fraction` of its content characters (at least 2)
  replaced by other characters drawn from `pool` (a chapter's content
  characters, so drawn by their frequency there)."""
  positions = [i for i, c in enumerate(sentence) if is_content(c)]
  count = min(len(positions), max(2, int(round(fraction * len(positions)))))
  characters = list(sentence)
  for position in rng.choice(positions, size=count, replace=False):
    replacement = characters[position]
    while replacement == characters[position]:
      replacement = pool[rng.randint(len(pool))]
    characters[position] = replacement
  return "".join(characters)


def make_altered_examples(chapters, rng, max_examples, fraction=1.0 / 6):
  """Balanced (sentence, label) examples; label "0" altered, "1" original."""
  examples = []
  for chapter in chapters:
    pool = [c for sentence in chapter for c in sentence if is_content(c)]
    for sentence in chapter:
      if sum(is_content(c) for c in sentence) < 4:
        continue
      if rng.rand() < 0.5:
        examples.append((alter(sentence, pool, rng, fraction), "0"))
      else:
        examples.append((sentence, "1"))
  order = rng.permutation(len(examples))[:max_examples]
  return [examples[i] for i in order]


# ----------------------------------------------------------------------------
# The "retold" pair task.


def retell(sentence, donor, rng, drop_prob=0.2, replace_prob=0.1):
  """A noisy copy of `sentence`: characters dropped, some taken from `donor`."""
  characters = []
  for character in sentence:
    draw = rng.rand()
    if draw < drop_prob:
      continue
    if draw < drop_prob + replace_prob:
      character = donor[rng.randint(len(donor))]
    characters.append(character)
  return "".join(characters) or sentence


def make_pairs(chapters, rng, max_pairs, window=5):
  """Balanced (text_a, text_b, label) pairs; see the module docstring.

  Every sentence of a chapter with at least two sentences yields one pair: a
  coin flip makes it a retelling (1) or pairs it with another sentence at most
  `window` lines away (0).
  """
  pairs = []
  for chapter in chapters:
    if len(chapter) < 2:
      continue
    for index, sentence in enumerate(chapter):
      low, high = max(0, index - window), min(len(chapter), index + window + 1)
      other = rng.randint(low, high - 1)
      other += other >= index  # any nearby sentence but this one
      if rng.rand() < 0.5:
        pairs.append((sentence, retell(sentence, chapter[other], rng), "1"))
      else:
        pairs.append((sentence, chapter[other], "0"))
  order = rng.permutation(len(pairs))[:max_pairs]
  return [pairs[i] for i in order]


def write_pairs(path, rows):
  """Writes the TSV (header, then one row per tuple, the label last) via a
  temporary file."""
  if not rows:
    raise ValueError("No examples for %s: the chapters are too short." % path)
  header = "text_a\ttext_b\tlabel" if len(rows[0]) == 3 else "text_a\tlabel"
  tmp_path = path + ".tmp"
  with tf.io.gfile.GFile(tmp_path, "w") as f:
    f.write(header + "\n")
    for row in rows:
      f.write("\t".join(field.replace("\t", " ") for field in row) + "\n")
  tf.io.gfile.rename(tmp_path, path, overwrite=True)


def main(_):
  if not FLAGS.pairs_dir:
    raise app.UsageError("--pairs_dir is required.")
  chapters = read_chapters(FLAGS.corpus_file, FLAGS.min_sentence_chars)
  if len(chapters) < FLAGS.num_dev_chapters + 1:
    raise ValueError("%s has %d chapters; --num_dev_chapters=%d leaves none "
                     "for training." % (FLAGS.corpus_file, len(chapters),
                                        FLAGS.num_dev_chapters))
  rng = np.random.RandomState(FLAGS.pairs_seed)
  splits = {
      "train": (chapters[:-FLAGS.num_dev_chapters], FLAGS.max_train_pairs),
      "dev": (chapters[-FLAGS.num_dev_chapters:], FLAGS.max_dev_pairs),
  }
  tf.io.gfile.makedirs(FLAGS.pairs_dir)
  for split, (split_chapters, cap) in splits.items():
    if FLAGS.task == "altered":
      rows = make_altered_examples(split_chapters, rng, cap,
                                   FLAGS.alter_fraction)
    else:
      rows = make_pairs(split_chapters, rng, cap)
    write_pairs(os.path.join(FLAGS.pairs_dir, split + ".tsv"), rows)
    positives = sum(row[-1] == "1" for row in rows)
    print("%s: %d %s examples (%d labelled 1, %d labelled 0) from %d "
          "chapters" % (split, len(rows), FLAGS.task, positives,
                        len(rows) - positives, len(split_chapters)))


if __name__ == "__main__":
  app.run(main)
