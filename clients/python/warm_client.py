"""warm_client: a single-file Python client for warm-serve, standard library only.

Copy this file next to your training script (or put clients/python on PYTHONPATH):

    from warm_client import WarmClient, make_reward_func

    client = WarmClient("http://localhost:8000")
    client.score([{"prompt": "Hi", "completion": " there"}])["rewards"]   # -> [0.12]
    client.rank("Hi", [" there", " you"])["best_index"]                     # -> 0

    # TRL: GRPOTrainer(..., reward_funcs=make_reward_func("http://localhost:8000"))

A busy or starting server answers 503 (or 429) with Retry-After; the client waits as told and
tries again within a total retry budget, then raises WarmServeError. Python 3.8+.
"""

import email.utils
import http.client
import json
import os
import socket
import threading
import time
import urllib.parse

__all__ = ["WarmClient", "WarmServeError", "make_reward_func", "reward_func"]

_RETRYABLE = (429, 503)


class WarmServeError(Exception):
    """A failed call: kind is "http" (the server answered an error), "timeout" or "network"."""

    def __init__(self, kind, message, status=0, body=None, attempts=1):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.error_type = (body or {}).get("error_type")
        self.request_id = (body or {}).get("request_id")
        self.attempts = attempts


def _retry_after_seconds(value):
    """Seconds from a Retry-After header (delay-seconds or HTTP-date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class WarmClient:
    """Client for POST /v1/score, POST /v1/rank and GET /v1/info.

    timeout: seconds for connecting and for each read of one attempt.
    retry_budget: total seconds a call may spend retrying 503/429 answers and refused or reset
        connections (0: never retry).
    backoff: wait when a 503/429 has no Retry-After, or after a connection error, doubled per
        retry (at most 8x).
    api_key: sent as "Authorization: Bearer <api_key>" (default: $WARM_SERVE_API_KEY, if set).

    Each thread keeps one connection open (HTTP keep-alive), so one-sample calls skip a TCP
    handshake each (one-item calls to the reference model on loopback: 1.83 against 2.22 ms
    with a new connection per call; bench_keepalive.py). close() closes the calling thread's
    connection.
    """

    def __init__(self, base_url=None, timeout=30.0, retry_budget=60.0, backoff=0.5, headers=None, api_key=None):
        self.base_url = (base_url or os.environ.get("WARM_SERVE_URL") or "http://localhost:8000").rstrip("/")
        self.timeout = timeout
        self.retry_budget = retry_budget
        self.backoff = backoff
        self.headers = dict(headers or {})
        api_key = api_key or os.environ.get("WARM_SERVE_API_KEY")
        if api_key:
            self.headers["authorization"] = "Bearer " + api_key
        url = urllib.parse.urlsplit(self.base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("base_url must be http(s)://host[:port][/prefix], got %r" % self.base_url)
        self._connection_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        self._address = (url.hostname, url.port)
        self._prefix = url.path
        self._local = threading.local()

    def close(self):
        """Close this thread's connection (the next call opens a new one)."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def score(self, items, truncate=None, **fields):
        """Rewards for items ({"prompt", "completion"}, {"messages"}, {"text"} or {"input_ids"}), in order: the /v1/score answer."""
        body = dict(fields, items=list(items))
        if truncate is not None:
            body["truncate"] = truncate
        return self._call("POST", "/v1/score", body)

    def rewards(self, items, **options):
        """Just the rewards of score(), as a list of floats."""
        return self.score(items, **options)["rewards"]

    def rank(self, prompt, completions, top_k=None, truncate=None, **fields):
        """The completions of one prompt, best first (best-of-N): the /v1/rank answer (normalize="group" adds GRPO advantages)."""
        body = dict(fields, prompt=prompt, completions=list(completions))
        if top_k is not None:
            body["top_k"] = top_k
        if truncate is not None:
            body["truncate"] = truncate
        return self._call("POST", "/v1/rank", body)

    def info(self):
        """The served model, its limits and batching settings: the /v1/info answer."""
        return self._call("GET", "/v1/info", None)

    def _call(self, method, path, body):
        started = time.monotonic()
        payload = None if body is None else json.dumps(body).encode("utf-8")
        attempt = 0
        while True:
            attempt += 1
            backoff = self.backoff * 2 ** min(attempt - 1, 3)
            try:
                status, answer, retry_after = self._attempt(method, path, payload, attempt)
            except WarmServeError as error:
                # A refused or reset connection (a replica restarting): scoring is a pure function
                # of the request, so sending it again is safe.
                if error.kind != "network" or time.monotonic() - started + backoff > self.retry_budget:
                    raise
                time.sleep(backoff)
                continue
            if 200 <= status < 300:
                return answer
            detail = answer.get("error") if isinstance(answer, dict) else None
            suffix = " (after %d attempts)" % attempt if attempt > 1 else ""
            error = WarmServeError(
                "http",
                "%s %s: HTTP %d%s%s" % (method, path, status, ": " + detail if detail else "", suffix),
                status=status,
                body=answer if isinstance(answer, dict) else None,
                attempts=attempt,
            )
            if status not in _RETRYABLE:
                raise error
            wait = _retry_after_seconds(retry_after)
            if wait is None:
                wait = backoff
            if time.monotonic() - started + wait > self.retry_budget:
                raise error
            time.sleep(wait)

    def _attempt(self, method, path, payload, attempt):
        """One HTTP exchange: (status, parsed JSON or None, Retry-After header)."""
        headers = {"accept": "application/json"}
        headers.update(self.headers)
        if payload is not None:
            headers["content-type"] = "application/json"
        while True:
            connection = getattr(self._local, "connection", None)
            reused = connection is not None and connection.sock is not None
            if connection is None:
                connection = self._local.connection = self._connection_class(*self._address, timeout=self.timeout)
            try:
                connection.request(method, self._prefix + path, body=payload, headers=headers)
                response = connection.getresponse()
                return response.status, _json(response.read()), response.getheader("retry-after")
            except (socket.timeout, TimeoutError) as err:
                self.close()
                raise WarmServeError("timeout", "%s %s: no answer within %s s (timeout)" % (method, path, self.timeout), attempts=attempt) from err
            except (OSError, http.client.HTTPException) as err:
                self.close()
                # A kept-alive connection the server had closed meanwhile (idle timeout, drain):
                # send once more at once on a new connection (scoring is a pure function of the
                # request, so sending it again is safe).
                if reused and isinstance(err, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
                    continue
                suffix = " (after %d attempts)" % attempt if attempt > 1 else ""
                raise WarmServeError("network", "%s %s: %s%s" % (method, path, err, suffix), attempts=attempt) from err


def _json(raw):
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError:
        return None  # e.g. a proxy's HTML error page: reported by status


def _to_item(prompt, completion):
    """One TRL sample as a score item: conversational (lists of messages) or plain text."""
    if isinstance(completion, list):
        messages = (list(prompt) if isinstance(prompt, list) else [{"role": "user", "content": prompt}]) + list(completion)
        return {"messages": [{"role": m["role"], "content": m["content"]} for m in messages]}
    if isinstance(prompt, list):
        raise ValueError("a conversational prompt (list of messages) needs a conversational completion")
    return {"prompt": prompt, "completion": completion}


def make_reward_func(base_url=None, client=None, batch_size=64, name="warm_reward", api_key=None, **score_options):
    """A reward function for TRL's GRPOTrainer: (prompts, completions, **kwargs) -> list[float].

    Plain-text samples are scored as {"prompt", "completion"} (the model's template); conversational
    ones (lists of {"role", "content"}) as {"messages": prompt + completion} (the tokenizer's chat
    template). Items go in requests of batch_size; the server batches across workers anyway.
    api_key: for a server with authentication (default: $WARM_SERVE_API_KEY).
    """
    client = client or WarmClient(base_url, api_key=api_key)

    def reward(prompts, completions, **kwargs):
        items = [_to_item(p, c) for p, c in zip(prompts, completions)]
        rewards = []
        for start in range(0, len(items), batch_size):
            rewards.extend(client.rewards(items[start:start + batch_size], **score_options))
        return rewards

    reward.__name__ = name  # TRL logs each reward function under its __name__
    return reward


_default_reward = None


def reward_func(prompts, completions, **kwargs):
    """TRL reward function against $WARM_SERVE_URL (default http://localhost:8000)."""
    global _default_reward
    if _default_reward is None:
        _default_reward = make_reward_func(name="reward_func")
    return _default_reward(prompts, completions, **kwargs)
