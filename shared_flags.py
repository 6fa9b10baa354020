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

_string, _bool, _integer, _float, _list = (
    flags.DEFINE_string, flags.DEFINE_bool, flags.DEFINE_integer,
    flags.DEFINE_float, flags.DEFINE_list)


def _enum(*choices):
  return lambda name, default, help_text: flags.DEFINE_enum(
      name, default, list(choices), help_text)


# name -> (define function, default, help). Scripts may pass their own
# default to `define`; the first definition in a process wins.
_SHARED_FLAGS = {
    # Data creation and vocabularies.
    "input_file": (
        _string, None,
        "Input file(s), a comma-separated list of files or glob patterns: "
        "UTF-8 text (one sentence per line, documents separated by an empty "
        "line) for create_pretraining_data.py and build_vocab.py, pretraining "
        "TFRecords for run_pretraining.py."),
    "output_file": (
        _string, None,
        "Output file(s): comma-separated TFRecords for "
        "create_pretraining_data.py (instances are dealt to them in turn); "
        "the vocab for build_vocab.py (default albert_config/vocab.txt)."),
    "vocab_file": (
        _string, None,
        "WordPiece vocab.txt the model was (or will be) trained with. Optional "
        "with --albert_hub_module_handle (the module carries its vocab)."),
    "spm_model_file": (
        _string, None,
        "SentencePiece model (google-research/albert English models) instead "
        "of a WordPiece vocab."),
    "do_lower_case": (
        _bool, True,
        "Lower-case the text and strip accents before tokenizing (the released "
        "Chinese models are uncased)."),
    "max_seq_length": (
        _integer, 128,
        "Maximum tokens per sequence, [CLS] and [SEP]s included; must match "
        "the TFRecords a training script reads."),
    "random_seed": (
        _integer, 12345,
        "Seed of every random choice: create_pretraining_data.py's masking and "
        "pairing (the same seed gives byte-identical output), and the "
        "initialisation and data order of the training scripts."),
    "max_predictions_per_seq": (
        _integer, 20,
        "Maximum masked-LM predictions per sequence; must match the "
        "TFRecords run_pretraining.py reads."),
    # Every training script (estimator_utils.define_common_flags).
    "bert_config_file": (
        _string, None,
        "ALBERT config JSON (albert_zh 'brightmart' layout with ln_type, or "
        "google layout with num_hidden_groups), e.g. "
        "albert_config/albert_config_tiny.json. Alias: --albert_config_file."),
    "init_checkpoint": (
        _string, None,
        "Checkpoint to start from (a released albert_zh/google checkpoint or "
        "one of ours). Optimizer slots in it are ignored. Ignored once "
        "output_dir holds a checkpoint, which is resumed instead."),
    "output_dir": (
        _string, None,
        "Directory for checkpoints, TensorBoard events, caches and results "
        "(local or gs://)."),
    "use_tpu": (_bool, False, "Run on a Cloud TPU."),
    "tpu_name": (
        _string, None,
        "Cloud TPU name or grpc://ip:port address (needed with --use_tpu)."),
    "tpu_zone": (
        _string, None,
        "GCE zone of the TPU (looked up from metadata when unset)."),
    "gcp_project": (
        _string, None,
        "GCP project of the TPU (looked up from metadata when unset)."),
    "master": (_string, None, "TensorFlow master URL (instead of --tpu_name)."),
    "num_tpu_cores": (_integer, 8,
                      "TPU cores to replicate over (with --use_tpu)."),
    "iterations_per_loop": (
        _integer, 1000,
        "Steps run on the TPU per host call (also the granularity of "
        "checkpointing and logging on TPU). Unused off TPU."),
    "save_checkpoints_steps": (
        _integer, 1000,
        "Save a checkpoint every this many steps (fine-tuning scripts also "
        "evaluate dev at each one with --do_eval)."),
    "keep_checkpoint_max": (_integer, 5,
                            "How many recent checkpoints to keep."),
    "log_step_count_steps": (
        _integer, 100,
        "Log the loss, global_step/sec and examples/sec every this many "
        "steps."),
    "optimizer": (_enum("lamb", "adamw"), "lamb",
                  "Optimizer: lamb (layer-wise adaptive) or adamw."),
    "use_xla": (
        _bool, False,
        "Compile the training graph with XLA (auto-clustering, CPU and GPU)."),
    "use_amp": (
        _bool, False,
        "GPU automatic mixed precision (float16 graph rewrite) with dynamic "
        "loss scaling."),
    "num_gpus": (
        _integer, 1,
        "0: CPU only. 1: one GPU if one is visible, else CPU. N>1: "
        "data-parallel over N GPUs with tf.distribute.MirroredStrategy (the "
        "batch size flags are global batch sizes)."),
    "distribution_strategy": (
        _enum("one_device", "mirrored", "multi_worker"), None,
        "How training is replicated. one_device: one CPU/GPU. mirrored: "
        "tf.distribute.MirroredStrategy over --num_gpus GPUs of this machine. "
        "multi_worker: synchronous data-parallel training over the machines "
        "of the TF_CONFIG environment variable (MultiWorkerMirroredStrategy, "
        "--num_gpus GPUs or the CPU on each; the chief writes output_dir, "
        "which every machine must reach, e.g. gs:// or NFS). Unset: mirrored "
        "for --num_gpus>1, else one_device. Batch sizes stay global."),
    "all_reduce_alg": (
        _enum("auto", "ring", "nccl"), "auto",
        "Gradient all-reduce: for multi_worker the collective implementation "
        "(ring: gRPC ring, any device; nccl: NVIDIA NCCL between GPUs; auto: "
        "TensorFlow chooses); for mirrored, nccl forces NcclAllReduce."),
    "do_train": (_bool, False, "Train."),
    "do_eval": (
        _bool, False,
        "Evaluate: held-out TFRecords for run_pretraining.py; the dev split "
        "for the fine-tuning scripts (at every saved checkpoint when "
        "training, keeping the best one in output_dir/best/)."),
    "train_batch_size": (_integer, 32,
                         "Global training batch size (over all devices)."),
    "eval_batch_size": (_integer, 8, "Global evaluation batch size."),
    "learning_rate": (_float, 5e-5, "Peak learning rate."),
    # The fine-tuning scripts (finetuning.define_flags).
    "data_dir": (_string, None,
                 "Directory with the task's train/dev/test files."),
    "do_predict": (
        _bool, False,
        "Predict the test split with the best (else latest) checkpoint."),
    "predict_batch_size": (_integer, 8, "Prediction batch size."),
    "num_train_epochs": (_float, 3.0, "Passes over the training data."),
    "train_step": (
        _integer, 0,
        "Training steps (google-research/albert's spelling); overrides "
        "--num_train_epochs when positive."),
    "warmup_proportion": (_float, 0.1,
                          "Fraction of training steps with linear warmup."),
    "warmup_step": (
        _integer, -1,
        "Warmup steps; overrides --warmup_proportion when >= 0."),
    "albert_hub_module_handle": (
        _string, None,
        "Fine-tune from this TF-Hub module (TF1 Hub format, e.g. a local path "
        "written by --export_dir or export.py) instead of --init_checkpoint."),
    "export_dir": (
        _string, None,
        "Write a SavedModel of the fine-tuned model (export_dir/<model>/"
        "<step>) and, with --init_checkpoint, the pretrained encoder as a "
        "TF-Hub module (export_dir/hub_module)."),
    "skip_bad_rows": (
        _bool, False,
        "Skip malformed rows or records and count them, instead of stopping "
        "with their file and line (or JSON path)."),
    "dynamic_length": (
        _bool, True,
        "Pad each batch to its longest sequence (training batches are grouped "
        "by length) instead of padding every sequence to max_seq_length. TPUs "
        "need --nodynamic_length."),
    "task_name": (
        _string, None,
        "The task (case-insensitive). run_classifier.py: lcqmc (lcqmc_pair), "
        "xnli, afqmc, tnews, iflytek, cmnli, ocnli, cluewsc2020, csl; GLUE's "
        "cola, sst-2, mrpc, sts-b, qqp, mnli, mnli-mm, qnli, rte, wnli, ax; "
        "generic_single / generic_pair for your own TSV or JSON-lines data. "
        "run_race.py: race, c3, chid. run_ner.py (the file format): msra, "
        "bio, cluener, conll."),
    "labels": (
        _list, None,
        "Comma-separated labels (their order fixes the ids) for tasks whose "
        "labels are not fixed. Default: the labels found in the training "
        "file."),
    # The predictors (similarity.py, squad_predictor.py, ner_predictor.py).
    "saved_model": (
        _string, None,
        "A SavedModel written by the training script's --export_dir "
        "(export_dir/<model> or one of its numbered versions)."),
    "num_threads": (_integer, 0,
                    "Threads per op (0: TensorFlow picks, all cores)."),
    "batch_size": (_integer, 32,
                   "Sequences (windows) run through the model at once."),
}

_ALIASES = {"albert_config_file": "bert_config_file"}


def define(*names, **defaults):
  """Defines the named shared flags, once per process, for the caller.

  defaults: a script's own default for some of them (used only when this call
  defines the flag).
  """
  for name in names:
    if name in flags.FLAGS:
      flags.declare_key_flag(name)
    else:
      define_flag, default, help_text = _SHARED_FLAGS[name]
      define_flag(name, defaults.get(name, default), help_text)
    for alias, target in _ALIASES.items():
      if target == name and alias not in flags.FLAGS:
        flags.DEFINE_alias(alias, target)


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
