#!/usr/bin/env bash
# Fine-tunes and evaluates an albert_zh model on all CLUE classification tasks
# (afqmc, tnews, iflytek, cmnli, ocnli, cluewsc2020, csl) with CLUE's published
# settings, writes each task's submission file (<task>_predict.json) and prints
# a one-table summary at the end.
#
# Each task runs run_classifier.py once: training with a dev evaluation at
# every saved checkpoint (the best one is kept), then test prediction with it.
#
#   CLUE_DIR=clue_data MODEL_SIZE=tiny \
#     ALBERT_CONFIG=albert_config/albert_config_tiny.json \
#     VOCAB_FILE=albert_config/vocab.txt \
#     INIT_CHECKPOINT=albert_tiny_zh/albert_model.ckpt bash run_clue.sh
#
# Settings (CLUE's README, per task: batch size, max length, epochs, lr):
#   MODEL_SIZE=tiny  the ALBERT-tiny rows of CLUE's tables.
#   MODEL_SIZE=base  CLUE publishes no ALBERT-base classification rows; these
#                    are its BERT-base rows (same 12-layer, 768-wide shape).
#   OCNLI has no ALBERT row in CLUE's tables: both sizes use OCNLI's own BERT
#   baseline (batch 32, length 128, 3 epochs, lr 2e-5). Warmup is 10% of the
#   steps (BERT's run_classifier default, which CLUE's baselines keep).
#
# Environment (data and model paths; CLUE_DIR is required):
#   CLUE_DIR                  holds one directory per task, named as the task
#                             or as CLUE's download (afqmc/ or afqmc_public/)
#   OUTPUT_DIR                where task T's run goes: OUTPUT_DIR/T/ (default
#                             clue_output); OUTPUT_DIR/summary.tsv and
#                             OUTPUT_DIR/submission/ (the submission files)
#   ALBERT_CONFIG, INIT_CHECKPOINT (or ALBERT_HUB_MODULE_HANDLE), VOCAB_FILE
#   MODEL_SIZE                tiny (default) or base
#   TASKS                     a subset, e.g. "ocnli cluewsc2020"
#   MAX_SEQ_LENGTH            overrides every task's max length
#   SAVE_CHECKPOINTS_STEPS    dev evaluation interval (default 1000)
#   STEP_CAP                  train exactly this many steps instead of the
#                             epochs (smoke runs)
#   EXTRA_FLAGS               more run_classifier flags
#   PYTHON                    default python3
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${PYTHON:-python3}"
CLUE_DIR="${CLUE_DIR:?set CLUE_DIR to the directory holding afqmc/, tnews/, ...}"
OUTPUT_DIR="${OUTPUT_DIR:-clue_output}"
ALBERT_CONFIG="${ALBERT_CONFIG:-}"
INIT_CHECKPOINT="${INIT_CHECKPOINT:-}"
ALBERT_HUB_MODULE_HANDLE="${ALBERT_HUB_MODULE_HANDLE:-}"
VOCAB_FILE="${VOCAB_FILE:-}"
MODEL_SIZE="${MODEL_SIZE:-tiny}"
TASKS="${TASKS:-afqmc tnews iflytek cmnli ocnli cluewsc2020 csl}"
SAVE_CHECKPOINTS_STEPS="${SAVE_CHECKPOINTS_STEPS:-1000}"
STEP_CAP="${STEP_CAP:-}"
read -r -a EXTRA <<< "${EXTRA_FLAGS:-}"

# batch size, max length, epochs, learning rate.
hyperparameters() {  # size task
  case "$1/$2" in
    tiny/afqmc|base/afqmc)  echo "16 128 3 2e-5" ;;
    tiny/tnews|base/tnews)  echo "16 128 3 2e-5" ;;
    tiny/iflytek)           echo "32 128 10 2e-5" ;;
    base/iflytek)           echo "32 128 3 2e-5" ;;
    tiny/cmnli|base/cmnli)  echo "64 128 2 3e-5" ;;
    tiny/ocnli|base/ocnli)  echo "32 128 3 2e-5" ;;
    tiny/cluewsc2020)       echo "8 128 50 1e-4" ;;
    base/cluewsc2020)       echo "8 128 50 2e-5" ;;
    tiny/csl|base/csl)      echo "4 256 5 1e-5" ;;
    *) echo "no settings for MODEL_SIZE=$1 task '$2'; MODEL_SIZE is tiny or base, TASKS from: afqmc tnews iflytek cmnli ocnli cluewsc2020 csl" >&2
       return 1 ;;
  esac
}

COMMON=()
[[ -n "${ALBERT_CONFIG}" ]] && COMMON+=(--albert_config_file="${ALBERT_CONFIG}")
[[ -n "${VOCAB_FILE}" ]] && COMMON+=(--vocab_file="${VOCAB_FILE}")
if [[ -n "${ALBERT_HUB_MODULE_HANDLE}" ]]; then
  COMMON+=(--albert_hub_module_handle="${ALBERT_HUB_MODULE_HANDLE}")
elif [[ -n "${INIT_CHECKPOINT}" ]]; then
  COMMON+=(--init_checkpoint="${INIT_CHECKPOINT}")
fi
COMMON+=("${EXTRA[@]}")

stage() { printf '\n===== %s =====\n' "$*"; }

task_data_dir() {  # task
  if [[ -d "${CLUE_DIR}/$1" || ! -d "${CLUE_DIR}/$1_public" ]]; then
    echo "${CLUE_DIR}/$1"
  else
    echo "${CLUE_DIR}/$1_public"
  fi
}

for task in ${TASKS}; do
  hyperparameters "${MODEL_SIZE}" "${task}" > /dev/null
done
for task in ${TASKS}; do
  read -r batch length epochs lr <<< "$(hyperparameters "${MODEL_SIZE}" "${task}")"
  length="${MAX_SEQ_LENGTH:-${length}}"
  schedule=(--num_train_epochs="${epochs}" --warmup_proportion=0.1
            --save_checkpoints_steps="${SAVE_CHECKPOINTS_STEPS}")
  if [[ -n "${STEP_CAP}" ]]; then
    every=$(( SAVE_CHECKPOINTS_STEPS < STEP_CAP ? SAVE_CHECKPOINTS_STEPS : STEP_CAP ))
    schedule=(--train_step="${STEP_CAP}" --warmup_step=$(( STEP_CAP / 10 ))
              --save_checkpoints_steps="${every}")
    epochs="(capped at ${STEP_CAP} steps)"
  fi
  stage "${task}: batch ${batch}, length ${length}, epochs ${epochs}, lr ${lr}"
  "${PYTHON}" "${HERE}/run_classifier.py" "${COMMON[@]}" \
    --task_name="${task}" --data_dir="$(task_data_dir "${task}")" \
    --output_dir="${OUTPUT_DIR}/${task}" --do_train --do_eval --do_predict \
    --train_batch_size="${batch}" --max_seq_length="${length}" \
    --learning_rate="${lr}" "${schedule[@]}"
done

stage "CLUE summary (${OUTPUT_DIR}/summary.tsv)"
# shellcheck disable=SC2086
"${PYTHON}" "${HERE}/glue_data.py" summary "${OUTPUT_DIR}" ${TASKS}
