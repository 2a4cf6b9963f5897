"""A local OpenAI-compatible HTTP server for tests and benchmarks (127.0.0.1 only).

It answers ``POST /v1/chat/completions`` and ``POST /v1/embeddings`` in the documented
response format of the OpenAI API (``usage`` included) and its error format
(``{"error": {"message", "type", "param", "code"}}``), so the real openai SDK runs
unchanged over real HTTP. Chat answers are generated from the request's JSON schema
(``response_format.json_schema``). A ``script`` of actions, consumed one per chat request,
injects faults: ``"invalid_json"``, ``"out_of_range"``, ``("status", 429, {"Retry-After":
"1"})``, ``("status", 500)``, ``("status", 401)``, ``("sleep", seconds)``, ``("echo_key",
status)`` (an error body quoting the bearer key, as some gateways do). ``GET /stats``
returns the call counts and the tokens charged. Run as a script to serve from another process (benchmarks).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import numpy as np

EMBEDDING_DIMENSIONS = 64
ERRORS = {
    401: (("Incorrect API key provided: sk-***. You can find your API key at "
          "https://platform.openai.com/account/api-keys."), "invalid_request_error",
          "invalid_api_key"),
    429: ("Rate limit reached for requests. Please try again in 1s.", "requests",
          "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!",
          "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


def _hash_int(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def embed_text(text: str) -> list[float]:
    """Deterministic hashed bag of words: similar texts get similar vectors."""
    vector = np.zeros(EMBEDDING_DIMENSIONS, dtype=np.float32)
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        vector[_hash_int(word) % EMBEDDING_DIMENSIONS] += 1.0
    norm = float(np.linalg.norm(vector)) or 1.0
    return (vector / norm).tolist()


class SchemaFiller:
    """Builds a JSON value that satisfies a (strict-mode) JSON schema, deterministically."""

    def __init__(self, root: dict, prompt: str):
        self.root = root
        self.prompt = prompt
        self.passage_ids = [int(n) for n in re.findall(r"\[P (\d+)\]", prompt)]
        self.doc_ids = [int(n) for n in re.findall(r"\[doc (\d+)\]", prompt)]
        self.seed = _hash_int(prompt)

    def resolve(self, schema: dict) -> dict:
        ref = schema.get("$ref")
        if ref:
            node: Any = self.root
            for part in ref.lstrip("#/").split("/"):
                node = node[part]
            return node
        return schema

    def fill(self, schema: dict, name: str = "") -> Any:
        schema = self.resolve(schema)
        if "anyOf" in schema:
            options = [o for o in schema["anyOf"] if self.resolve(o).get("type") != "null"]
            return self.fill(options[0], name) if options else None
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next(k for k in kind if k != "null")
        if kind == "object":
            return {key: self.fill(sub, key) for key, sub in schema.get("properties", {}).items()}
        if kind == "array":
            items = self.resolve(schema.get("items", {}))
            if items.get("type") == "integer":
                pool = self.doc_ids if "document" in name else self.passage_ids
                return pool[:2]
            return [f"stub {name} {i}" for i in (1, 2)]
        if kind == "boolean":
            return True
        if kind in ("number", "integer"):
            low, high = schema.get("minimum", 0), schema.get("maximum", 10)
            value = low + (high - low) * (3 + self.seed % 5) / 10  # 3..7 tenths of the range
            return int(value) if kind == "integer" else round(value, 1)
        if kind == "string":
            return f"Stub {name} ({self.seed % 1000})." if name != "summary" else \
                f"Stub summary {self.seed % 1000}: the document discusses the alliance."
        return None


class StubState:
    def __init__(self, latency: float = 0.0, api_key: str | None = None):
        self.latency = latency
        self.api_key = api_key
        self.script: deque = deque()
        self.calls: Counter = Counter()
        self.chat_requests: list[dict] = []
        self.usage: list[tuple[int, int]] = []
        self.in_flight = 0
        self.max_in_flight = 0  # most chat requests being answered at the same moment
        self.lock = threading.Lock()

    def next_action(self) -> Any:
        with self.lock:
            return self.script.popleft() if self.script else "ok"


def _prompt_text(body: dict) -> str:
    return "\n".join(str(m.get("content", "")) for m in body.get("messages", []))


def chat_answer(body: dict, action: Any) -> str:
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or {"type": "object", "properties": {}}
    value = SchemaFiller(schema, _prompt_text(body)).fill(schema)
    if action == "invalid_json":
        return '{"on_topic": true, "summary": "cut off'
    if action == "out_of_range" and isinstance(value, dict):
        for score in (value.get("scores") or {}).values():
            score["value"] = 12
    return json.dumps(value)


def make_handler(state: StubState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, headers: dict | None = None) -> None:
            message, kind, code = ERRORS.get(status, ("error", "server_error", None))
            self._send(status, {"error": {"message": message, "type": kind, "param": None,
                                          "code": code}}, headers)

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/stats"):
                with state.lock:
                    usage = list(state.usage)
                self._send(200, {"calls": dict(state.calls),
                                 "prompt_tokens": sum(i for i, _ in usage),
                                 "completion_tokens": sum(o for _, o in usage),
                                 "usage": usage})
            else:
                self._error(404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            if state.api_key and self.headers.get("Authorization") != f"Bearer {state.api_key}":
                return self._error(401)
            if self.path.endswith("/chat/completions"):
                return self._chat(body)
            if self.path.endswith("/embeddings"):
                return self._embeddings(body)
            return self._error(404)

        def _chat(self, body: dict) -> None:
            with state.lock:
                state.calls["chat"] += 1
                state.chat_requests.append(body)
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                self._chat_answer(body)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _chat_answer(self, body: dict) -> None:
            action = state.next_action()
            if state.latency:
                time.sleep(state.latency)
            if isinstance(action, tuple) and action[0] == "sleep":
                time.sleep(action[1])
                action = "ok"
            if isinstance(action, tuple) and action[0] == "status":
                return self._error(action[1], action[2] if len(action) > 2 else None)
            if isinstance(action, tuple) and action[0] == "echo_key":
                key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                return self._send(action[1], {"error": {
                    "message": f"Gateway rejected the request made with key {key}",
                    "type": "server_error", "param": None, "code": None}})
            content = chat_answer(body, action)
            prompt_tokens = len(_prompt_text(body)) // 4
            completion_tokens = len(content) // 4 + 1
            with state.lock:
                state.usage.append((prompt_tokens, completion_tokens))
            self._send(200, {
                "id": f"chatcmpl-{state.calls['chat']}", "object": "chat.completion",
                "created": int(time.time()), "model": body.get("model", "stub"),
                "system_fingerprint": "fp_stub",
                "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                             "message": {"role": "assistant", "content": content,
                                         "refusal": None}}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens},
            })

        def _embeddings(self, body: dict) -> None:
            with state.lock:
                state.calls["embeddings"] += 1
            inputs = body.get("input", [])
            inputs = [inputs] if isinstance(inputs, str) else inputs
            data = []
            for i, text in enumerate(inputs):
                vector = embed_text(text)
                if body.get("encoding_format") == "base64":
                    vector = base64.b64encode(np.asarray(vector, np.float32).tobytes()).decode()
                data.append({"object": "embedding", "index": i, "embedding": vector})
            tokens = sum(len(t) // 4 + 1 for t in inputs)
            self._send(200, {"object": "list", "data": data, "model": body.get("model"),
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up (timeout, cancelled run) is part of the tests


class OpenAIStub:
    """Start with ``with OpenAIStub() as stub:``; ``stub.base_url`` ends in /v1."""

    def __init__(self, latency: float = 0.0, api_key: str | None = None, port: int = 0):
        self.state = StubState(latency, api_key)
        self.server = _QuietServer(("127.0.0.1", port), make_handler(self.state))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @property
    def calls(self) -> Counter:
        return self.state.calls

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    stub = OpenAIStub(args.latency, port=args.port)
    print(stub.base_url, flush=True)
    stub.server.serve_forever()


if __name__ == "__main__":
    main()
