#!/usr/bin/env bash
# GRPO with slime, rewards from a warm-serve server (no reward model on the training GPUs).
#
#   npx warm-serve serve --model path/to/warm-model --port 8000    # on the reward host
#   bash examples/slime/run_grpo_remote_rm.sh                      # from a slime checkout
#
# slime's remote_rm (slime/rollout/rm_hub/__init__.py) posts one sample per request,
# {"prompt", "response", "label"}, to --rm-url and takes the JSON answer as the reward;
# warm-serve's POST /reward answers the bare reward (a JSON number) and scores
# {"prompt", "completion": response} with the model's template (with --apply-chat-template the
# prompt is already rendered by the policy's chat template; without it slime sends the messages,
# and the response is scored as the assistant's turn). slime retries a failed request 10 times,
# backing off, so a 503 while warm-serve loads or a full queue is waited out.
#
# With --reward-key K (a reward dict elsewhere in your setup), send ?reward_key=K: the answer is
# then {"K": reward}, which Sample.get_reward_value reads as reward["K"]:
#   --rm-url "${WARM_SERVE_URL}/reward?reward_key=score" --reward-key score
set -euo pipefail
WARM_SERVE_URL=${WARM_SERVE_URL:-http://warm-serve:8000}

python3 train.py \
  --hf-checkpoint /root/Qwen3-4B \
  --prompt-data /root/dapo-math-17k/dapo-math-17k.jsonl \
  --input-key prompt --label-key label \
  --apply-chat-template --rollout-shuffle \
  --rm-type remote_rm \
  --rm-url "${WARM_SERVE_URL}/reward" \
  --advantage-estimator grpo \
  --num-rollout 100 \
  --rollout-batch-size 32 \
  --n-samples-per-prompt 8 \
  --global-batch-size 256 \
  "$@"   # your model, parallelism and optimizer flags (slime's scripts/models/*.sh and run-*.sh)
