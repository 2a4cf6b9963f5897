"""The packaged MiniLM encoder: length-sorted batches over worker threads give the same
vectors as the model itself, in the order of the texts given, in a forked child too."""

from __future__ import annotations

import os
import select
import signal

import numpy as np

from analytics.llm.embeddings import get_embedder

TEXTS = ["NATO allies stand united.", "A much longer sentence about the alliance, its members "
         "and whether Article 5 would be honoured if one were attacked.", "Hi.",
         *(f"Sentence number {i} about defence spending{'!' * (i % 7)}." for i in range(70))]


def test_encoder_matches_the_packaged_model_in_any_order():
    embedder = get_embedder()
    ours = embedder.encode(TEXTS)
    reference = embedder._model.encode(TEXTS, batch_size=16, normalize_embeddings=True)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert np.abs(ours - reference).max() < 1e-5
    assert np.abs(embedder.encode(TEXTS[::-1])[::-1] - ours).max() < 1e-5
    assert embedder.encode([]).shape == (0, 384)


def test_a_forked_child_restarts_the_workers():
    embedder = get_embedder()
    expected = embedder.encode(TEXTS[:5])
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child has no worker threads until encode starts them again
        try:
            ok = np.abs(embedder.encode(TEXTS[:5]) - expected).max() < 1e-5
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    ready, _, _ = select.select([read], [], [], 120)
    answer = os.read(read, 1) if ready else b"timeout"
    if not ready:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert answer == b"1"
