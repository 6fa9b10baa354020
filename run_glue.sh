#!/usr/bin/env bash
# Fine-tunes and evaluates ALBERT on the GLUE benchmark with the per-task
# hyperparameters of google-research/albert's run_glue.sh, predicts every test
# set as a leaderboard file, and prints a one-table summary at the end.
#
# Each task runs run_classifier.py once: training, with a dev evaluation at
# every saved checkpoint and the best one kept (by the task's own metric:
# Matthews correlation for CoLA, F1 for MRPC/QQP, Pearson for STS-B, else
# accuracy), then test prediction with that best checkpoint. After MNLI, the
# MNLI model is evaluated on the mismatched dev set (MNLI-mm) and predicts
# GLUE's diagnostic set (AX), as the leaderboard expects.
#
#   GLUE_DIR=glue_data ALBERT_DIR=albert_base \
#     ALBERT_CONFIG=albert_base/albert_config.json \
#     SPM_MODEL_FILE=albert_base/30k-clean.model \
#     INIT_CHECKPOINT=albert_base/model.ckpt-best bash run_glue.sh
#
# Environment (data and model paths; only GLUE_DIR is always required):
#   GLUE_DIR                  the GLUE release root (CoLA/, SST-2/, MNLI/, ...,
#                             diagnostic/)
#   OUTPUT_DIR                where task T's run goes: OUTPUT_DIR/T/ (default
#                             glue_output); OUTPUT_DIR/summary.tsv and
#                             OUTPUT_DIR/submission/ (the leaderboard files)
#   ALBERT_CONFIG             the model's config JSON
#   INIT_CHECKPOINT           the pretrained checkpoint, or instead
#   ALBERT_HUB_MODULE_HANDLE  a TF-Hub module (TF1 Hub format)
#   SPM_MODEL_FILE, VOCAB_FILE  the tokenizer (SentencePiece for google's
#                             English models; VOCAB_FILE for WordPiece)
#   DO_LOWER_CASE             true (default) or false
#   TASKS                     a subset, e.g. "RTE MRPC" (default: google's
#                             eight, in their order; MNLI brings MNLI-mm, AX)
#   MAX_SEQ_LENGTH            default 512 (google's)
#   TRAIN_BATCH_SIZE          overrides every task's batch size
#   STEP_CAP                  caps every task's training steps, scaling warmup
#                             and the checkpoint interval to fit (smoke runs)
#   EXTRA_FLAGS               more run_classifier flags, e.g. --use_tpu ...
#   PYTHON                    default python3
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${PYTHON:-python3}"
GLUE_DIR="${GLUE_DIR:?set GLUE_DIR to the GLUE release root (CoLA/, SST-2/, ...)}"
OUTPUT_DIR="${OUTPUT_DIR:-glue_output}"
ALBERT_CONFIG="${ALBERT_CONFIG:-}"
INIT_CHECKPOINT="${INIT_CHECKPOINT:-}"
ALBERT_HUB_MODULE_HANDLE="${ALBERT_HUB_MODULE_HANDLE:-}"
SPM_MODEL_FILE="${SPM_MODEL_FILE:-}"
VOCAB_FILE="${VOCAB_FILE:-}"
DO_LOWER_CASE="${DO_LOWER_CASE:-true}"
TASKS="${TASKS:-SST-2 MNLI CoLA QNLI QQP RTE STS-B MRPC}"
MAX_SEQ_LENGTH="${MAX_SEQ_LENGTH:-512}"
TRAIN_BATCH_SIZE="${TRAIN_BATCH_SIZE:-}"
STEP_CAP="${STEP_CAP:-}"
read -r -a EXTRA <<< "${EXTRA_FLAGS:-}"

# google-research/albert's run_glue.sh, per task:
#   warmup steps, learning rate, training steps, checkpoint interval, batch size.
hyperparameters() {
  case "$1" in
    SST-2) echo "1256 1e-5 20935 100 32" ;;
    MNLI)  echo "1000 3e-5 10000 100 128" ;;
    CoLA)  echo "320 1e-5 5336 100 16" ;;
    QNLI)  echo "1986 1e-5 33112 200 32" ;;
    QQP)   echo "1000 5e-5 14000 100 128" ;;
    RTE)   echo "200 3e-5 800 100 32" ;;
    STS-B) echo "214 2e-5 3598 100 16" ;;
    MRPC)  echo "200 2e-5 800 100 32" ;;
    WNLI)  echo "200 3e-5 800 100 32" ;;  # not in google's script: RTE's
    *) echo "unknown GLUE task '$1' in TASKS; use: SST-2 MNLI CoLA QNLI QQP RTE STS-B MRPC WNLI" >&2
       return 1 ;;
  esac
}

# Flags every run shares: the model, the tokenizer, the data.
COMMON=(--data_dir="${GLUE_DIR}" --max_seq_length="${MAX_SEQ_LENGTH}")
[[ -n "${ALBERT_CONFIG}" ]] && COMMON+=(--albert_config_file="${ALBERT_CONFIG}")
[[ -n "${SPM_MODEL_FILE}" ]] && COMMON+=(--spm_model_file="${SPM_MODEL_FILE}")
[[ -n "${VOCAB_FILE}" ]] && COMMON+=(--vocab_file="${VOCAB_FILE}")
if [[ "${DO_LOWER_CASE}" == "true" ]]; then COMMON+=(--do_lower_case); else COMMON+=(--nodo_lower_case); fi
if [[ -n "${ALBERT_HUB_MODULE_HANDLE}" ]]; then
  COMMON+=(--albert_hub_module_handle="${ALBERT_HUB_MODULE_HANDLE}")
elif [[ -n "${INIT_CHECKPOINT}" ]]; then
  COMMON+=(--init_checkpoint="${INIT_CHECKPOINT}")
fi
COMMON+=("${EXTRA[@]}")

classifier() { "${PYTHON}" "${HERE}/run_classifier.py" "${COMMON[@]}" "$@"; }

stage() { printf '\n===== %s =====\n' "$*"; }

train_task() {  # task
  local task="$1" warmup lr steps every batch
  read -r warmup lr steps every batch <<< "$(hyperparameters "${task}")"
  if [[ -n "${STEP_CAP}" ]] && (( steps > STEP_CAP )); then
    warmup=$(( warmup * STEP_CAP / steps ))
    every=$(( every < STEP_CAP ? every : STEP_CAP ))
    steps="${STEP_CAP}"
  fi
  batch="${TRAIN_BATCH_SIZE:-${batch}}"
  stage "${task}: ${steps} steps of ${batch}, lr ${lr}, warmup ${warmup}, dev every ${every}"
  classifier --task_name="${task}" --output_dir="${OUTPUT_DIR}/${task}" \
    --do_train --do_eval --do_predict --optimizer=adamw \
    --warmup_step="${warmup}" --learning_rate="${lr}" --train_step="${steps}" \
    --save_checkpoints_steps="${every}" --train_batch_size="${batch}"
}

# Evaluates and/or predicts TASK with the model trained on MNLI.
with_mnli_model() {  # task do_flags...
  local task="$1"
  shift
  stage "${task} with the MNLI model"
  "${PYTHON}" "${HERE}/glue_data.py" copy_trained_model \
    "${OUTPUT_DIR}/MNLI" "${OUTPUT_DIR}/${task}"
  classifier --task_name="${task}" --output_dir="${OUTPUT_DIR}/${task}" "$@"
}

for task in ${TASKS}; do  # a typo fails before hours of training
  hyperparameters "${task}" > /dev/null
done
DONE=()
for task in ${TASKS}; do
  train_task "${task}"
  DONE+=("${task}")
  if [[ "${task}" == "MNLI" ]]; then
    with_mnli_model MNLI-mm --do_eval --do_predict
    with_mnli_model AX --do_predict
    DONE+=(MNLI-mm AX)
  fi
done

stage "GLUE summary (${OUTPUT_DIR}/summary.tsv)"
"${PYTHON}" "${HERE}/glue_data.py" summary "${OUTPUT_DIR}" "${DONE[@]}"
