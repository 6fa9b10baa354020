# coding=utf-8
"""Fine-tunes ALBERT for span-extraction reading comprehension (SQuAD v1.1,
CMRC2018, DRCD): every question has an answer in its context.

The head gives start and end logits per token; the answer is the span with
the highest start + end logit among valid spans (end >= start, at most
--max_answer_length tokens, inside the context) over all windows of the
context, cut out of the context exactly as written. Writes to --output_dir:
  predictions.json         question id -> answer text
  nbest_predictions.json   question id -> the --n_best_size best answers with
                           probability, start/end logits and character offsets
                           (context[start_char:end_char] == text)
  eval_results.txt         when --predict_file has answers: exact_match and f1
                           (0-100) by the SQuAD v1.1 or CMRC2018 rules (--metric)
  best/                    with --do_train --do_eval: the checkpoint with the
                           best dev F1
  train.<fingerprint>.tf_record, predict.<fingerprint>.tf_record  cached
                           features (see --train_feature_file)
With --export_dir, a SavedModel for squad_predictor.py (export_dir/squad/<step>).
Shared with run_squad_v2.py: squad_task.py; data and metrics: squad_utils.py,
squad_metrics.py.

Example (CMRC2018 with albert_tiny_zh):
  python run_squad_v1.py --vocab_file=albert_config/vocab.txt \\
    --albert_config_file=albert_config/albert_config_tiny.json \\
    --init_checkpoint=albert_tiny_zh/albert_model.ckpt \\
    --train_file=cmrc2018/train.json --predict_file=cmrc2018/dev.json \\
    --do_train --do_eval --do_predict --max_seq_length=384 --doc_stride=128 \\
    --train_batch_size=32 --learning_rate=1e-4 --num_train_epochs=3 \\
    --output_dir=cmrc_out
"""

from absl import app
from absl import flags
import tensorflow.compat.v1 as tf

import squad_task

FLAGS = flags.FLAGS

squad_task.define_flags()


def run(flags_obj):
  """Runs the stages the flags ask for; returns the last results."""
  return squad_task.run(flags_obj, version_2=False)


def main(_):
  tf.logging.set_verbosity(tf.logging.INFO)
  run(FLAGS)


if __name__ == "__main__":
  app.run(main)
