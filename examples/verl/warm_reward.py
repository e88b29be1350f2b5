"""verl custom reward function that asks a warm-serve server for the reward.

verl's built-in discriminative reward model (reward_model.enable=True) launches its own vLLM
servers and posts {"model", "input", "use_activation": False} to their /classify, reading
data[-1].probs[-1]; with an SGLang reward engine it posts {"model", "input"} to /v1/embeddings
and reads data[-1]["embedding"][-1] (verl/experimental/reward_loop/reward_loop.py,
compute_score_disrm). warm-serve answers both requests, so this function sends exactly one of them
(`engine`: "vllm", the default, or "sglang") to an external warm-serve instead. Point verl at it with custom_reward_function (see config.yaml beside this file);
`url` (and `api_key`, for a server with API keys; default $WARM_SERVE_API_KEY) arrive from
custom_reward_function.reward_kwargs.

The text scored is prompt + response, in the format the reward model reads: the reference
model's template is "{prompt}{completion}", so plain concatenation is that template. verl gives
a custom reward function only the decoded response, so the prompt comes from the dataset's
extra_info ("prompt", or "question" as in verl's GSM8K preprocessing).
"""

import json
import os
import time
import urllib.error
import urllib.request


def compute_score(data_source, solution_str, ground_truth, extra_info=None, url="http://localhost:8000", retries=8, api_key=None, engine="vllm", **kwargs):
    extra_info = extra_info or {}
    prompt = extra_info.get("prompt") or extra_info.get("question") or ""
    if engine == "sglang":
        route, payload = "/v1/embeddings", {"model": "warm-serve", "input": prompt + solution_str}
    else:
        route, payload = "/classify", {"model": "warm-serve", "input": prompt + solution_str, "use_activation": False}
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json"}
    api_key = api_key or os.environ.get("WARM_SERVE_API_KEY")
    if api_key:
        headers["authorization"] = "Bearer " + api_key
    request = urllib.request.Request(url.rstrip("/") + route, data=body, headers=headers)
    for attempt in range(retries):
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                data = json.loads(response.read())["data"][-1]
                return float(data["embedding"][-1] if engine == "sglang" else data["probs"][-1])
        except urllib.error.HTTPError as err:
            # 503 = queue full or model loading: wait as the server says, like verl retries 5xx.
            if err.code != 503 or attempt == retries - 1:
                raise
            time.sleep(float(err.headers.get("retry-after") or 1))
