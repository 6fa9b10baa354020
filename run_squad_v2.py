# coding=utf-8
"""Fine-tunes ALBERT for reading comprehension with unanswerable questions
(SQuAD v2.0; also SQuAD v1.1/CMRC2018/DRCD-style files).

google-research/albert's v2 head (squad_model.py): start logits, end logits
conditioned on each of the --start_n_top best starts (keeping --end_n_top
ends each), and an answerability logit from [CLS] and the start-weighted
representation; loss (start + end) / 2 + 0.5 * answerability cross-entropy.
A question's null odds are its smallest answerability logit over windows;
its answer becomes "" when they exceed the threshold
(--null_score_diff_threshold, by default the one with the best F1 on a
--predict_file with answers). Writes to --output_dir:
  predictions.json         question id -> answer text ("" = no answer)
  nbest_predictions.json   the best non-null answers with probability,
                           start/end log-probabilities, character offsets
  null_odds.json           question id -> null odds (for the official script's
                           --na-prob-file or squad_utils.py --null_odds)
  eval_results.txt         when --predict_file has answers: exact, f1,
                           HasAns_*/NoAns_*, best_exact/best_f1 with their
                           thresholds, and null_score_diff_threshold used
  best/                    with --do_train --do_eval: the best dev best_f1
With --export_dir, a SavedModel for squad_predictor.py (export_dir/squad/<step>)
that carries the threshold.

Example (SQuAD 2.0 with google's albert_base):
  python run_squad_v2.py --spm_model_file=albert_base/30k-clean.model \\
    --albert_config_file=albert_base/albert_config.json \\
    --init_checkpoint=albert_base/model.ckpt-best --do_lower_case \\
    --train_file=train-v2.0.json --predict_file=dev-v2.0.json \\
    --do_train --do_predict --max_seq_length=384 --doc_stride=128 \\
    --train_batch_size=48 --learning_rate=3e-5 --num_train_epochs=2 \\
    --output_dir=squad2_out
"""

from absl import app
from absl import flags
import tensorflow.compat.v1 as tf

import squad_task

FLAGS = flags.FLAGS

squad_task.define_flags()


def run(flags_obj):
  """Runs the stages the flags ask for; returns the last results."""
  return squad_task.run(flags_obj, version_2=True)


def main(_):
  tf.logging.set_verbosity(tf.logging.INFO)
  run(FLAGS)


if __name__ == "__main__":
  app.run(main)
