# coding=utf-8
"""Builds the demo's sentence-pair task from the bundled pretraining sample.

The sample (data/sample_text_zh.txt: one sentence per line, a blank line
between chapters) has no labels, so the demo builds an LCQMC-like question it
can answer itself: "do A and B say the same thing?"
  label 1: B is A retold -- a copy with about a fifth of its characters
           dropped and a few replaced by characters of another sentence;
  label 0: B is a different sentence near A in the same chapter (same topic,
           same people, other content).
Half the pairs are of each kind. Chapters, not sentences, are split between
train and dev, so dev pairs come from text unseen while fine-tuning.

The files are the generic_pair format of run_classifier.py (TSV with a
`text_a<TAB>text_b<TAB>label` header):

  python make_demo_pairs.py --corpus_file=data/sample_text_zh.txt \\
      --pairs_dir=demo_output/pairs
  python run_classifier.py --task_name=generic_pair \\
      --data_dir=demo_output/pairs ...
"""

import os

from absl import app
from absl import flags
import numpy as np

FLAGS = flags.FLAGS

# Flag names are this script's own: tests import it next to scripts that
# declare input_file/output_dir, and absl flags live in one global registry.
flags.DEFINE_string("corpus_file", "data/sample_text_zh.txt",
                    "Text with one sentence per line and blank lines between "
                    "chapters (documents).")
flags.DEFINE_string("pairs_dir", None, "Where train.tsv and dev.tsv go.")
flags.DEFINE_integer("num_dev_chapters", 8,
                     "Chapters (from the end of the file) held out for dev.")
flags.DEFINE_integer("max_train_pairs", 4000, "Cap on training pairs.")
flags.DEFINE_integer("max_dev_pairs", 800, "Cap on dev pairs.")
flags.DEFINE_integer("min_sentence_chars", 4,
                     "Sentences shorter than this are not used (headings, "
                     "exclamations).")
flags.DEFINE_integer("pairs_seed", 12345, "Seed for sampling and shuffling.")


def read_chapters(path, min_chars=1):
  """Returns a list of chapters, each a list of sentences (file order)."""
  chapters, current = [], []
  with open(path, encoding="utf-8") as f:
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


def write_pairs(path, pairs):
  """Writes the TSV (with header) via a temporary file."""
  tmp_path = path + ".tmp"
  with open(tmp_path, "w", encoding="utf-8") as f:
    f.write("text_a\ttext_b\tlabel\n")
    for text_a, text_b, label in pairs:
      f.write("%s\t%s\t%s\n" % (text_a.replace("\t", " "),
                                text_b.replace("\t", " "), label))
  os.replace(tmp_path, path)


def main(_):
  if not FLAGS.pairs_dir:
    raise app.UsageError("--pairs_dir is required.")
  chapters = read_chapters(FLAGS.corpus_file, FLAGS.min_sentence_chars)
  if len(chapters) < FLAGS.num_dev_chapters + 2:
    raise ValueError("%s has %d chapters; --num_dev_chapters=%d leaves too few "
                     "for training." % (FLAGS.corpus_file, len(chapters),
                                        FLAGS.num_dev_chapters))
  rng = np.random.RandomState(FLAGS.pairs_seed)
  splits = {
      "train": (chapters[:-FLAGS.num_dev_chapters], FLAGS.max_train_pairs),
      "dev": (chapters[-FLAGS.num_dev_chapters:], FLAGS.max_dev_pairs),
  }
  os.makedirs(FLAGS.pairs_dir, exist_ok=True)
  for split, (split_chapters, cap) in splits.items():
    pairs = make_pairs(split_chapters, rng, cap)
    write_pairs(os.path.join(FLAGS.pairs_dir, split + ".tsv"), pairs)
    positives = sum(label == "1" for _, _, label in pairs)
    print("%s: %d pairs (%d retold, %d different) from %d chapters" % (
        split, len(pairs), positives, len(pairs) - positives,
        len(split_chapters)))


if __name__ == "__main__":
  app.run(main)
