#!/usr/bin/env bash
# End-to-end demo on the bundled sample (data/sample_text_zh.txt, 65 chapters of
# 三国演义), CPU only, with the small-budget pretraining recipe (README:
# "Pretraining on a small budget"):
#   1. build seq-64 pretraining TFRecords with character masking: chapters
#      1-60 for training, chapters 61-65 held out for evaluation;
#   2. evaluate the randomly initialised model ("before");
#   3. pretrain albert_config_small_budget.json (pre-LN, H 128, 2 layers) with
#      LAMB for a few minutes;
#   4. evaluate again ("after") and print MLM / SOP accuracy before and after;
#   5. fine-tune on a task built from the held-out chapters with little
#      labelled data ("is this sentence as written, or were characters
#      replaced?"), once from the pretrained checkpoint and once from random
#      initialisation, print both, and fail unless pretraining helped.
#
#   PYTHON=.venv/bin/python bash run_demo.sh          (what `make demo` runs)
#
# Environment: PYTHON (default `python`), DEMO_DIR (default ./demo_output),
# PRETRAIN_STEPS (default 2000), FINETUNE_EPOCHS (default 10), NUM_WORKERS
# (default 2).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
cd "${HERE}"
PYTHON="${PYTHON:-python}"
DEMO_DIR="${DEMO_DIR:-demo_output}"
NUM_WORKERS="${NUM_WORKERS:-2}"

# ---- Shared settings and output locations ---------------------------------
ALBERT_CONFIG="albert_config/albert_config_small_budget.json"
VOCAB_FILE="albert_config/vocab.txt"
MAX_SEQ_LENGTH=64
MAX_PREDICTIONS=10
DATA_DIR="${DEMO_DIR}/pretrain_data"
TRAIN_TEXT="${DATA_DIR}/train.txt"
HELDOUT_TEXT="${DATA_DIR}/heldout.txt"
TRAIN_RECORDS="${DATA_DIR}/train_seq${MAX_SEQ_LENGTH}.tfrecord"
HELDOUT_RECORDS="${DATA_DIR}/heldout_seq${MAX_SEQ_LENGTH}.tfrecord"
BEFORE_DIR="${DEMO_DIR}/pretrain_before"
PRETRAIN_DIR="${DEMO_DIR}/pretrain"   # the pretrained checkpoint for later stages
PRETRAIN_STEPS="${PRETRAIN_STEPS:-2000}"
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

# Character masking (no whole words, no n-grams): at this budget a masked
# character next to visible ones is what the model can learn to predict.
make_records() {  # text_file output_file dupe_factor
  run_logged "$2.log" "Summary:" "${PYTHON}" create_pretraining_data.py \
    --input_file="$1" --output_file="$2" --dupe_factor="$3" \
    --vocab_file="${VOCAB_FILE}" --do_lower_case=True \
    --do_whole_word_mask=False --ngram=1 \
    --max_seq_length="${MAX_SEQ_LENGTH}" \
    --max_predictions_per_seq="${MAX_PREDICTIONS}" --masked_lm_prob=0.15 \
    --random_seed=12345 --num_workers="${NUM_WORKERS}"
}
make_records "${TRAIN_TEXT}" "${TRAIN_RECORDS}" 10
# Four differently masked copies: ~1,500 held-out sequences, so the
# accuracies printed below are good to about +-1%.
make_records "${HELDOUT_TEXT}" "${HELDOUT_RECORDS}" 4

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
    --train_batch_size=32 --eval_batch_size=64 --max_eval_steps=100 \
    --num_gpus=0 "$@"
}

# ---- Stage 2: evaluate the random initialisation ----------------------------
stage "2. Evaluate the randomly initialised model on held-out chapters"
rm -rf "${BEFORE_DIR}"
pretraining "${BEFORE_DIR}" "${EVAL_LINES}" --do_eval

# ---- Stage 3: pretrain ------------------------------------------------------
stage "3. Pretrain ${ALBERT_CONFIG} for ${PRETRAIN_STEPS} steps of 32 sequences (CPU)"
rm -rf "${PRETRAIN_DIR}"
start_seconds=${SECONDS}
pretraining "${PRETRAIN_DIR}" "${EVAL_LINES}|^INFO:tensorflow:(learning_rate = |examples/sec)|unigram level" \
  --do_train --do_eval --optimizer=lamb --learning_rate=1e-2 \
  --num_train_steps="${PRETRAIN_STEPS}" --num_warmup_steps=50 \
  --save_checkpoints_steps="${PRETRAIN_STEPS}" --log_step_count_steps=100
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

# ---- Stage 5: fine-tune, pretrained against random initialisation -----------
# The task (make_demo_pairs.py --task=altered) comes from the held-out
# chapters: is a sentence as the author wrote it (1), or were about a third of
# its characters replaced by characters of the same chapter (0)? Character
# frequencies give nothing away; knowing which characters fit their context
# does, which is what pretraining learned. The learning rate is low (1e-4):
# at 1e-3 the pre-LN model's unnormalised final states grow until the
# pooler's tanh saturates (README, "Pretraining on a small budget"). Train: chapters 61-63 (~770
# sentences, little labelled data); dev: chapters 64-65 (~530).
FINETUNE_DIR="${DEMO_DIR}/finetune"
TASK_DIR="${FINETUNE_DIR}/task"
FINETUNE_EPOCHS="${FINETUNE_EPOCHS:-10}"

stage "5. Fine-tune on held-out chapters (original or altered?): pretrained vs random initialisation"
rm -rf "${FINETUNE_DIR}"
"${PYTHON}" make_demo_pairs.py --task=altered --corpus_file="${HELDOUT_TEXT}" \
  --pairs_dir="${TASK_DIR}" --num_dev_chapters=2 --alter_fraction=0.3333

finetune() {  # output_dir, then extra run_classifier.py flags
  local output_dir="$1"
  shift
  mkdir -p "${output_dir}"
  run_logged "${output_dir}/run.log" "^INFO:tensorflow:New best dev" \
    "${PYTHON}" run_classifier.py --task_name=generic_single \
    --data_dir="${TASK_DIR}" --vocab_file="${VOCAB_FILE}" \
    --albert_config_file="${ALBERT_CONFIG}" --output_dir="${output_dir}" \
    --do_train --do_eval --max_seq_length=64 --train_batch_size=32 \
    --eval_batch_size=64 --learning_rate=1e-4 --random_seed=12345 \
    --num_train_epochs="${FINETUNE_EPOCHS}" --save_checkpoints_steps=40 \
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
    return float(dict(line.strip().split(" = ", 1) for line in f
                      if " = " in line)["eval_accuracy"])

pretrained, random_init = accuracy(sys.argv[1]), accuracy(sys.argv[2])
print("best dev accuracy (original or altered, held-out chapters 64-65):")
print("  from the pretrained checkpoint  %.4f" % pretrained)
print("  from random initialisation      %.4f" % random_init)
if pretrained < random_init + 0.02:
  sys.exit("Pretraining did not help fine-tuning (%.4f vs %.4f)."
           % (pretrained, random_init))
EOF_PY
echo "demo took $((SECONDS / 60)) min $((SECONDS % 60)) s"
