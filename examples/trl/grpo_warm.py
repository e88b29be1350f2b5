"""GRPO with TRL, rewards from a warm-serve server.

    npx warm-serve serve --port 8000 &             # the reward server
    pip install trl datasets                       # the trainer (not needed by warm_client)
    WARM_SERVE_URL=http://localhost:8000 python3 examples/trl/grpo_warm.py

warm_client.py is one standard-library file: copy it next to your script or put
clients/python on PYTHONPATH, as done here. Its reward_func follows TRL's reward function
contract, (prompts, completions, **kwargs) -> list[float], for plain-text datasets ("prompt"
strings) and conversational ones (lists of {"role", "content"} messages).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))

from datasets import Dataset  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402
from warm_client import WarmClient, make_reward_func  # noqa: E402

url = os.environ.get("WARM_SERVE_URL", "http://localhost:8000")
print("reward model:", WarmClient(url).info()["model"])

prompts = ["Once upon a time", "The little dog", "Lily wanted to", "One day, Tom"] * 16
dataset = Dataset.from_dict({"prompt": prompts})

trainer = GRPOTrainer(
    model=os.environ.get("POLICY", "Qwen/Qwen2.5-0.5B"),
    reward_funcs=make_reward_func(url, name="warm"),  # logged as rewards/warm
    args=GRPOConfig(output_dir="grpo-warm", per_device_train_batch_size=8, num_generations=8, max_completion_length=64, max_steps=10),
    train_dataset=dataset,
)
trainer.train()
