"""Language models shared by the stages: the OpenAI-compatible chat client (structured
answers, retries, rate limits, cost and budget), prompt-safety helpers, and the packaged
MiniLM sentence embedder. Stages (score, summarize) build their prompts on top of this."""
