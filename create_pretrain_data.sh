#!/usr/bin/env bash
# Builds ALBERT pretraining TFRecords from the bundled sample corpus
# (data/sample_text_zh.txt, 65 chapters of 三国演义) with Chinese whole-word
# and n-gram masking.
#
#   bash create_pretrain_data.sh [OUTPUT_DIR]        # default ./pretrain_data
#
# Writes two sets:
#   OUTPUT_DIR/tf_examples_seq512.tfrecord  albert_zh's settings: seq 512,
#       max_predictions_per_seq 51, masked_lm_prob 0.10
#   OUTPUT_DIR/tf_examples_seq128.tfrecord  the demo's short sequences: seq 128,
#       max_predictions_per_seq 20, masked_lm_prob 0.15
# Environment: PYTHON (interpreter, default `python`), NUM_WORKERS (default 2),
# DUPE_FACTOR (masked copies of the corpus, default 5), NUM_SHARDS and
# SHARD_INDEX (default 1 and 0): run one task per shard (e.g. a Slurm array,
# SHARD_INDEX=$SLURM_ARRAY_TASK_ID) and each writes
# tf_examples_seq*.tfrecord-<SHARD_INDEX>-of-<NUM_SHARDS>; together the shards
# hold exactly the instances of one unsharded run.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
OUTPUT_DIR="${1:-./pretrain_data}"
PYTHON="${PYTHON:-python}"
NUM_WORKERS="${NUM_WORKERS:-2}"
DUPE_FACTOR="${DUPE_FACTOR:-5}"
NUM_SHARDS="${NUM_SHARDS:-1}"
SHARD_INDEX="${SHARD_INDEX:-0}"

mkdir -p "${OUTPUT_DIR}"

make_set() {
  local seq_length="$1" max_predictions="$2" masked_lm_prob="$3"
  "${PYTHON}" "${HERE}/create_pretraining_data.py" \
    --input_file="${HERE}/data/sample_text_zh.txt" \
    --output_file="${OUTPUT_DIR}/tf_examples_seq${seq_length}.tfrecord" \
    --vocab_file="${HERE}/albert_config/vocab.txt" \
    --do_lower_case=True \
    --do_whole_word_mask=True \
    --max_seq_length="${seq_length}" \
    --max_predictions_per_seq="${max_predictions}" \
    --masked_lm_prob="${masked_lm_prob}" \
    --dupe_factor="${DUPE_FACTOR}" \
    --random_seed=12345 \
    --num_workers="${NUM_WORKERS}" \
    --num_shards="${NUM_SHARDS}" \
    --shard_index="${SHARD_INDEX}"
}

make_set 512 51 0.10
make_set 128 20 0.15
