# coding=utf-8
"""Benchmarks create_pretraining_data.py against a plain jieba pass.

Every measurement is a fresh process, timed from start to exit:
  1. jieba only: `jieba.lcut` on every line of the small corpus;
  2. create_pretraining_data.py with one worker on the same corpus
     (dupe_factor 10, seq 128, 20 predictions, whole-word masking), and the
     ratio of its wall time to (1);
  3. the same with two workers, and the speedup over one;
  4. peak RSS of one-worker runs on the small and on the large corpus.

There is no Chinese news corpus on this machine, so the corpora are the
bundled novel (data/sample_text_zh.txt) repeated document by document up to
the requested size. The figures depend on what else runs on the machine; the
load average is printed with them.

  python benchmark_create_pretraining_data.py            # 5 MB and 50 MB
  python benchmark_create_pretraining_data.py --small_mb=1 --large_mb=10
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "data", "sample_text_zh.txt")
VOCAB = os.path.join(HERE, "albert_config", "vocab.txt")

JIEBA_PASS = """
import sys
import jieba
jieba.setLogLevel(60)
jieba.initialize()
with open(sys.argv[1], encoding="utf-8") as reader:
  for line in reader:
    line = line.strip()
    if line:
      jieba.lcut(line)
"""


def make_corpus(path, megabytes):
  """Repeats the sample's documents until the file holds `megabytes` MB."""
  with open(SAMPLE, encoding="utf-8") as reader:
    documents = [d.strip("\n") for d in reader.read().split("\n\n") if d.strip()]
  target = int(megabytes * 1e6)
  size = 0
  with open(path, "w", encoding="utf-8") as writer:
    index = 0
    while size < target:
      text = documents[index % len(documents)] + "\n\n"
      writer.write(text)
      size += len(text.encode("utf-8"))
      index += 1
  return size


def run_timed(command):
  """Runs a command; returns (wall s, CPU s, peak RSS MB) of its process tree."""
  start = time.perf_counter()
  process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
  # Read the log to the end (a full pipe would block the child), then reap
  # the child with wait4, which also returns its resource usage.
  stderr_lines = process.stderr.readlines()
  process.stderr.close()
  _, status, usage = os.wait4(process.pid, 0)
  elapsed = time.perf_counter() - start
  process.returncode = os.waitstatus_to_exitcode(status)
  if process.returncode != 0:
    sys.stderr.write(b"".join(stderr_lines[-30:]).decode("utf-8", "replace"))
    raise RuntimeError("command failed: %s" % " ".join(command))
  # ru_maxrss is in KB on Linux: the largest process of the tree.
  return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def ours_command(python, corpus, output, num_workers, dupe_factor):
  return [
      python, os.path.join(HERE, "create_pretraining_data.py"),
      "--input_file=" + corpus, "--output_file=" + output,
      "--vocab_file=" + VOCAB, "--do_whole_word_mask=True",
      "--max_seq_length=128", "--max_predictions_per_seq=20",
      "--masked_lm_prob=0.15", "--dupe_factor=%d" % dupe_factor,
      "--num_workers=%d" % num_workers
  ]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--small_mb", type=float, default=5.0)
  parser.add_argument("--large_mb", type=float, default=50.0)
  parser.add_argument("--dupe_factor", type=int, default=10)
  parser.add_argument("--repeats", type=int, default=2,
                      help="Runs of each small-corpus timing (fastest kept).")
  parser.add_argument("--skip_large", action="store_true",
                      help="Skip the large-corpus memory run.")
  parser.add_argument("--python", default=sys.executable,
                      help="Interpreter with the project's requirements.")
  args = parser.parse_args()

  work_dir = tempfile.mkdtemp(prefix="bench_cpd_")
  try:
    small = os.path.join(work_dir, "small.txt")
    large = os.path.join(work_dir, "large.txt")
    output = os.path.join(work_dir, "out.tfrecord")
    small_bytes = make_corpus(small, args.small_mb)
    print("corpus: the bundled novel repeated to %.1f MB" % (small_bytes / 1e6))
    print("load average before: %.2f %.2f %.2f" % os.getloadavg())

    # Interleaved repeats, keeping the fastest of each: other processes on
    # the machine only ever slow a run down.
    jieba_runs, one_runs, two_runs = [], [], []
    for _ in range(args.repeats):
      jieba_runs.append(run_timed([args.python, "-c", JIEBA_PASS, small]))
      one_runs.append(run_timed(
          ours_command(args.python, small, output, 1, args.dupe_factor)))
      two_runs.append(run_timed(
          ours_command(args.python, small, output, 2, args.dupe_factor)))
    jieba_secs, jieba_cpu, jieba_rss = min(jieba_runs)
    one_secs, one_cpu, _ = min(one_runs)
    small_rss = min(rss for _, _, rss in one_runs)  # the smaller: a fair ratio
    two_secs, two_cpu, _ = min(two_runs)
    print("jieba.lcut pass, %.1f MB: %.1f s (%.1f s CPU, peak RSS %.0f MB)" %
          (small_bytes / 1e6, jieba_secs, jieba_cpu, jieba_rss))
    print("create_pretraining_data, 1 worker, %.1f MB, dupe_factor %d: %.1f s "
          "(%.1f s CPU) = %.2fx the jieba pass" %
          (small_bytes / 1e6, args.dupe_factor, one_secs, one_cpu,
           one_secs / jieba_secs))
    print("create_pretraining_data, 2 workers: %.1f s (%.1f s CPU) = %.2fx "
          "speedup over 1" % (two_secs, two_cpu, one_secs / two_secs))

    if not args.skip_large:
      large_bytes = make_corpus(large, args.large_mb)
      large_secs, _, large_rss = run_timed(
          ours_command(args.python, large, output, 1, args.dupe_factor))
      print("peak RSS, 1 worker: %.0f MB at %.1f MB input, %.0f MB at %.1f MB "
            "input (%.1f s) = %.3fx" %
            (small_rss, small_bytes / 1e6, large_rss, large_bytes / 1e6,
             large_secs, large_rss / small_rss))
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())
  finally:
    shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
  main()
