#!/usr/bin/env bash
# PPO with OpenRLHF, rewards from a warm-serve server (no reward model on the training GPUs).
#
#   npx warm-serve serve --model path/to/warm-model --port 8000    # on the reward host
#   ray start --head --num-gpus 8 && bash examples/openrlhf/train_ppo_ray.sh
#
# OpenRLHF posts {"query": [prompt + response, ...], "prompts": [...], "labels": [...]} to the URL
# and reads "rewards" (openrlhf/utils/remote_rm_utils.py). The query is already rendered with the
# policy's chat template, so the reward model must read that format (warm-serve scores it as raw
# text). Several servers: repeat the flag value comma-separated; OpenRLHF splits each batch across
# them and sends empty lists to spare ones, which warm-serve answers with empty lists.
#
# Flag: --reward.remote_url (OpenRLHF 0.10+, namespaced CLI); older releases call it --remote_rm_url.
#
# Dynamic filtering (--dynamic_filtering --dynamic_filtering_reward_range 0 1) keeps a group whose
# mean *score* lies strictly inside the range; serve with --openrlhf-scores sigmoid so that scores are
# sigmoid(reward), in (0, 1) (rewards stay raw). The default, raw, answers as OpenRLHF's serve_rm.
set -euo pipefail
WARM_SERVE_URL=${WARM_SERVE_URL:-http://warm-serve:8000}

ray job submit --address="http://127.0.0.1:8265" \
  --runtime-env-json='{"working_dir": "/openrlhf"}' \
  -- python3 -m openrlhf.cli.train_ppo_ray \
  --actor.model_name_or_path OpenRLHF/Llama-3-8b-sft-mixture \
  --reward.remote_url "${WARM_SERVE_URL}/get_reward" \
  --ref.num_nodes 1 --ref.num_gpus_per_node 2 \
  --actor.num_nodes 1 --actor.num_gpus_per_node 4 \
  --vllm.num_engines 2 --vllm.tensor_parallel_size 1 \
  --data.prompt_dataset OpenRLHF/prompt-collection-v0.1 \
  --data.input_key context_messages \
  --data.apply_chat_template \
  --rollout.batch_size 1024 \
  --train.batch_size 128 \
  --ckpt.output_dir ./checkpoint/llama3-8b-warm-ppo
