#!/usr/bin/env bash
# End-to-end demo on the bundled sample (data/sample_text_zh.txt, 65 chapters of
# 三国演义), CPU only:
#   1. build seq-128 pretraining TFRecords: chapters 1-60 for training,
#      chapters 61-65 held out for evaluation;
#   2. evaluate the randomly initialised tiny ALBERT ("before");
#   3. pretrain it for a few minutes (LAMB);
#   4. evaluate again ("after") and print MLM / SOP accuracy before and after.
# Later stages (fine-tuning) append below, reading the variables defined here.
#
#   PYTHON=.venv/bin/python bash run_demo.sh          (what `make demo` runs)
#
# Environment: PYTHON (default `python`), DEMO_DIR (default ./demo_output),
# PRETRAIN_STEPS (default 400), NUM_WORKERS (default 2).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
cd "${HERE}"
PYTHON="${PYTHON:-python}"
DEMO_DIR="${DEMO_DIR:-demo_output}"
NUM_WORKERS="${NUM_WORKERS:-2}"

# ---- Shared settings and output locations ---------------------------------
ALBERT_CONFIG="albert_config/albert_config_tiny.json"
VOCAB_FILE="albert_config/vocab.txt"
MAX_SEQ_LENGTH=128
MAX_PREDICTIONS=20
DATA_DIR="${DEMO_DIR}/pretrain_data"
TRAIN_TEXT="${DATA_DIR}/train.txt"
HELDOUT_TEXT="${DATA_DIR}/heldout.txt"
TRAIN_RECORDS="${DATA_DIR}/train_seq${MAX_SEQ_LENGTH}.tfrecord"
HELDOUT_RECORDS="${DATA_DIR}/heldout_seq${MAX_SEQ_LENGTH}.tfrecord"
BEFORE_DIR="${DEMO_DIR}/pretrain_before"
PRETRAIN_DIR="${DEMO_DIR}/pretrain"   # the pretrained checkpoint for later stages
PRETRAIN_STEPS="${PRETRAIN_STEPS:-400}"
NUM_HELDOUT_CHAPTERS=5

stage() { printf '\n===== %s =====\n' "$*"; }

# Runs a command with its full log in LOG_FILE, showing as they come the lines
# that match the extended regex PATTERN; on failure shows the end of the log.
run_logged() {  # log_file pattern command...
  local log_file="$1" pattern="$2" status=0
  shift 2
  "$@" 2>&1 | tee "${log_file}" \
    | { grep --line-buffered -E "${pattern}" || true; } \
    | sed -u "s/^INFO:tensorflow://" || status=$?
  if [ "${status}" -ne 0 ]; then
    tail -n 40 "${log_file}"
    echo "FAILED: $* (full log: ${log_file})" >&2
    exit 1
  fi
}

# ---- Stage 1: pretraining data ----------------------------------------------
stage "1. Pretraining data (seq ${MAX_SEQ_LENGTH}) from data/sample_text_zh.txt"
mkdir -p "${DATA_DIR}"
# Documents are separated by empty lines; hold out the last chapters whole so
# evaluation sees text the model was not trained on.
num_chapters=$(awk -v RS= 'END {print NR}' data/sample_text_zh.txt)
awk -v RS= -v last=$((num_chapters - NUM_HELDOUT_CHAPTERS)) \
  'NR <= last {printf "%s\n\n", $0}' data/sample_text_zh.txt > "${TRAIN_TEXT}"
awk -v RS= -v last=$((num_chapters - NUM_HELDOUT_CHAPTERS)) \
  'NR > last {printf "%s\n\n", $0}' data/sample_text_zh.txt > "${HELDOUT_TEXT}"

make_records() {  # text_file output_file dupe_factor
  run_logged "$2.log" "Summary:" "${PYTHON}" create_pretraining_data.py \
    --input_file="$1" --output_file="$2" --dupe_factor="$3" \
    --vocab_file="${VOCAB_FILE}" --do_lower_case=True --do_whole_word_mask=True \
    --max_seq_length="${MAX_SEQ_LENGTH}" \
    --max_predictions_per_seq="${MAX_PREDICTIONS}" --masked_lm_prob=0.15 \
    --random_seed=12345 --num_workers="${NUM_WORKERS}"
}
make_records "${TRAIN_TEXT}" "${TRAIN_RECORDS}" 5
make_records "${HELDOUT_TEXT}" "${HELDOUT_RECORDS}" 1

# TensorFlow logs each line twice (absl and Python formats); show one copy.
EVAL_LINES="^INFO:tensorflow:(\*\*\*\*\* Eval|  [a-z_]+ = )"
pretraining() {  # output_dir log_pattern, then extra run_pretraining.py flags
  local output_dir="$1" pattern="$2"
  shift 2
  mkdir -p "${output_dir}"
  run_logged "${output_dir}/run.log" "${pattern}" "${PYTHON}" run_pretraining.py \
    --albert_config_file="${ALBERT_CONFIG}" \
    --input_file="${TRAIN_RECORDS}" --eval_input_file="${HELDOUT_RECORDS}" \
    --output_dir="${output_dir}" \
    --max_seq_length="${MAX_SEQ_LENGTH}" \
    --max_predictions_per_seq="${MAX_PREDICTIONS}" \
    --train_batch_size=16 --eval_batch_size=32 --max_eval_steps=100 \
    --num_gpus=0 "$@"
}

# ---- Stage 2: evaluate the random initialisation ----------------------------
stage "2. Evaluate the randomly initialised tiny model on held-out chapters"
rm -rf "${BEFORE_DIR}"
pretraining "${BEFORE_DIR}" "${EVAL_LINES}" --do_eval

# ---- Stage 3: pretrain ------------------------------------------------------
stage "3. Pretrain ${ALBERT_CONFIG} for ${PRETRAIN_STEPS} steps of 16 sequences (CPU)"
rm -rf "${PRETRAIN_DIR}"
start_seconds=${SECONDS}
pretraining "${PRETRAIN_DIR}" "${EVAL_LINES}|^INFO:tensorflow:(learning_rate = |examples/sec)" \
  --do_train --do_eval --learning_rate=5e-3 \
  --num_train_steps="${PRETRAIN_STEPS}" \
  --num_warmup_steps=$((PRETRAIN_STEPS / 10)) \
  --save_checkpoints_steps=$((PRETRAIN_STEPS / 4)) --log_step_count_steps=20
echo "pretraining took $((SECONDS - start_seconds)) s"

# ---- Stage 4: before / after ------------------------------------------------
stage "4. Held-out MLM and SOP accuracy, before and after pretraining"
"${PYTHON}" - "${BEFORE_DIR}/eval_results.txt" "${PRETRAIN_DIR}/eval_results.txt" <<'EOF'
import sys

def read(path):
  with open(path) as f:
    return dict(line.strip().split(" = ") for line in f if " = " in line)

before, after = read(sys.argv[1]), read(sys.argv[2])
print("%-24s %10s %10s" % ("", "before", "after"))
for key in ("global_step", "masked_lm_accuracy", "masked_lm_loss",
            "sentence_order_accuracy", "sentence_order_loss"):
  print("%-24s %10.4f %10.4f" % (key, float(before[key]), float(after[key])))
gain = float(after["masked_lm_accuracy"]) - float(before["masked_lm_accuracy"])
if gain < 0.03:
  sys.exit("MLM accuracy rose by only %.4f: pretraining did not learn." % gain)
EOF

# ---- Stage 5: fine-tune on a sentence-pair task (classifier stage) ----------
# Appended by the fine-tuning part of the project; reads the variables above.
# The task, built from the same sample by make_demo_pairs.py, is LCQMC-like:
# is sentence B a retelling of sentence A (a copy with characters dropped or
# replaced, label 1) or another sentence near A in the same chapter (label 0)?
# Dev pairs come from the chapters held out from pretraining. The same
# fine-tuning run (one epoch of 4000 pairs) starts once from the pretrained
# checkpoint and once from random weights.
FINETUNE_DIR="${DEMO_DIR}/finetune"
PAIRS_DIR="${FINETUNE_DIR}/pairs"
FINETUNE_EPOCHS="${FINETUNE_EPOCHS:-1}"

stage "5. Fine-tune on retold-or-different sentence pairs: pretrained vs random initialisation"
rm -rf "${FINETUNE_DIR}"
"${PYTHON}" make_demo_pairs.py --corpus_file=data/sample_text_zh.txt \
  --pairs_dir="${PAIRS_DIR}" --num_dev_chapters="${NUM_HELDOUT_CHAPTERS}" \
  --max_train_pairs=4000 --max_dev_pairs=1000

finetune() {  # output_dir, then extra run_classifier.py flags
  local output_dir="$1"
  shift
  mkdir -p "${output_dir}"
  run_logged "${output_dir}/run.log" "^INFO:tensorflow:Saving dict for global step" \
    "${PYTHON}" run_classifier.py --task_name=generic_pair \
    --data_dir="${PAIRS_DIR}" --vocab_file="${VOCAB_FILE}" \
    --albert_config_file="${ALBERT_CONFIG}" --output_dir="${output_dir}" \
    --do_train --do_eval --max_seq_length=64 --train_batch_size=32 \
    --eval_batch_size=64 --learning_rate=1e-4 \
    --num_train_epochs="${FINETUNE_EPOCHS}" --save_checkpoints_steps=125 \
    --num_gpus=0 "$@"
}
start_seconds=${SECONDS}
echo "-- from the pretrained checkpoint (${PRETRAIN_DIR})"
finetune "${FINETUNE_DIR}/from_pretrained" --init_checkpoint="${PRETRAIN_DIR}"
echo "-- from random initialisation"
finetune "${FINETUNE_DIR}/from_random"
echo "fine-tuning took $((SECONDS - start_seconds)) s"

"${PYTHON}" - "${FINETUNE_DIR}/from_pretrained/best/eval_results.txt" \
  "${FINETUNE_DIR}/from_random/best/eval_results.txt" <<'EOF_PY'
import sys

def accuracy(path):
  with open(path) as f:
    return float(dict(line.strip().split(" = ") for line in f)["eval_accuracy"])

pretrained, random_init = accuracy(sys.argv[1]), accuracy(sys.argv[2])
print("best dev accuracy (retold or different, held-out chapters):")
print("  from the pretrained checkpoint  %.4f" % pretrained)
print("  from random initialisation      %.4f" % random_init)
EOF_PY
