"""absl flags that several scripts declare, each defined here once.

absl refuses a second definition of a flag name, yet the scripts are imported
together (by the test suite, or by a user's own driver). So a flag that more
than one script uses is declared through `define`: the first script imported
defines it, later ones reuse that definition. One definition means one default
and a help text that covers every script.
"""

import glob

from absl import flags

# DEFINE_* calls made here are attributed to the script calling `define`, so
# each script's --helpshort still lists the flags it uses.
flags.disclaim_key_flags()

_SHARED_FLAGS = {
    "input_file": (
        flags.DEFINE_string, None,
        "Input file(s), a comma-separated list of files or glob patterns: "
        "UTF-8 text (one sentence per line, documents separated by an empty "
        "line) for create_pretraining_data.py and build_vocab.py, pretraining "
        "TFRecords for run_pretraining.py."),
    "output_file": (
        flags.DEFINE_string, None,
        "Output file(s): comma-separated TFRecords for "
        "create_pretraining_data.py (instances are dealt to them in turn); "
        "the vocab for build_vocab.py (default albert_config/vocab.txt)."),
    "vocab_file": (
        flags.DEFINE_string, None,
        "WordPiece vocab.txt the model was (or will be) trained with."),
    "spm_model_file": (
        flags.DEFINE_string, None,
        "SentencePiece model (google-research/albert English models) instead "
        "of a WordPiece vocab."),
    "do_lower_case": (
        flags.DEFINE_bool, True,
        "Lower-case the text and strip accents before tokenizing (the released "
        "Chinese models are uncased)."),
    "max_seq_length": (
        flags.DEFINE_integer, 128,
        "Maximum tokens per sequence, [CLS] and [SEP]s included; must match "
        "the TFRecords a training script reads."),
    "random_seed": (
        flags.DEFINE_integer, 12345,
        "Seed of every random choice: create_pretraining_data.py's masking and "
        "pairing (the same seed gives byte-identical output), and the "
        "initialisation and data order of run_pretraining.py and "
        "run_classifier.py."),
    "max_predictions_per_seq": (
        flags.DEFINE_integer, 20,
        "Maximum masked-LM predictions per sequence; must match the "
        "TFRecords run_pretraining.py reads."),
}


def define(*names):
  """Defines the named shared flags, once per process, for the caller."""
  for name in names:
    if name in flags.FLAGS:
      flags.declare_key_flag(name)
    else:
      define_flag, default, help_text = _SHARED_FLAGS[name]
      define_flag(name, default, help_text)


def expand_input_files(value, flag_name="input_file", glob_fn=glob.glob,
                       hint="pass existing files or glob patterns"):
  """A comma-separated list of files and globs as paths, in the given order.

  Raises ValueError naming the flag and a pattern that matches no file, with
  `hint` saying what to do.
  """
  paths = []
  for pattern in value.split(","):
    pattern = pattern.strip()
    if pattern:
      matches = sorted(glob_fn(pattern))
      if not matches:
        raise ValueError("--%s: %s matches no file; %s."
                         % (flag_name, pattern, hint))
      paths.extend(matches)
  if not paths:
    raise ValueError("--%s %r names no files; %s." % (flag_name, value, hint))
  return paths
