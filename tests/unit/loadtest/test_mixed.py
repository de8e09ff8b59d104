"""The mixed-model bench's pure parts: the bodies' shares, the per-model summary, and one
real closed-loop run against a tiny HTTP server on loopback."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from loadtest.mixed import SHARES, mixed_bodies
from loadtest.plan import Plan
from loadtest.tagged_load import Sample, TaggedLoad, percentile, run_tagged, summarize

SHARES_80_10_10 = [("sentiment-minilm", 8), ("toxicity", 1), ("emotion", 1)]


def test_every_block_of_ten_holds_the_shares_exactly() -> None:
    texts = [f"text {i}" for i in range(1000)]
    bodies = mixed_bodies(texts, SHARES_80_10_10)
    assert len(bodies) == 1000
    for start in range(0, 1000, 10):
        block = Counter(model for model, _ in bodies[start : start + 10])
        assert block == {"sentiment-minilm": 8, "toxicity": 1, "emotion": 1}


def test_bodies_keep_the_texts_in_order_and_name_their_model() -> None:
    texts = [f"text {i}" for i in range(37)]
    bodies = mixed_bodies(texts, SHARES_80_10_10)
    decoded = [json.loads(raw) for _, raw in bodies]
    assert [b["text"] for b in decoded] == texts
    assert [b["model"] for b in decoded] == [model for model, _ in bodies]


def test_the_same_seed_gives_the_same_bodies_and_another_seed_another_order() -> None:
    texts = [f"text {i}" for i in range(200)]
    assert mixed_bodies(texts, SHARES_80_10_10) == mixed_bodies(texts, SHARES_80_10_10)
    assert mixed_bodies(texts, SHARES_80_10_10, seed=1) != mixed_bodies(
        texts, SHARES_80_10_10, seed=2
    )


def test_the_default_shares_are_eighty_ten_ten() -> None:
    assert dict(SHARES) == {"default": 8, "toxicity": 1, "emotion": 1}


def test_the_mixed_texts_come_after_every_earlier_set() -> None:
    """Adding the mixed set left the sentiment levels' texts as they were."""
    plan = Plan.quick()
    mix = plan.texts()
    assert list(mix)[-1] == "mixed"
    assert len(mix["mixed"]) == plan.mixed_texts
    earlier = {text for name, texts in mix.items() if name != "mixed" for text in texts}
    assert earlier.isdisjoint(mix["mixed"])


def test_summary_lists_the_tags_in_the_order_asked_even_without_answers() -> None:
    samples = [Sample("b", 0.001, True, 0), Sample("a", 0.002, True, 1)]
    load = TaggedLoad(samples, seconds=1.0, wraps=0, cpu_share=0.0)
    rows = summarize("mixed", load, 8, order=["a", "c"])
    assert [row.tag for row in rows] == ["a", "c", "b", "all"]
    assert rows[1].requests == 0


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) == 0.0


def test_summary_splits_by_tag_and_adds_all() -> None:
    samples = [Sample("a", 0.010, True, i) for i in range(8)]
    samples += [Sample("b", 0.001, True, 8), Sample("b", 0.002, False, 9)]
    rows = summarize("mixed", TaggedLoad(samples, seconds=2.0, wraps=0, cpu_share=0.1), 32)
    by_tag = {row.tag: row for row in rows}
    assert [row.tag for row in rows] == ["a", "b", "all"]
    assert by_tag["a"].requests == 8
    assert by_tag["a"].req_per_s == 4.0
    assert by_tag["a"].share == 0.8
    assert by_tag["b"].share == 0.2
    assert by_tag["a"].p50_ms == 10.0
    assert by_tag["b"].p99_ms == 2.0
    assert by_tag["b"].errors == 1
    assert by_tag["all"].errors == 1
    assert by_tag["all"].requests == 10
    assert by_tag["all"].p50_ms == 10.0


def test_a_real_closed_loop_counts_each_answer_under_its_body_tag() -> None:
    """A tiny HTTP/1.1 keep-alive server answers 200, or 503 for tag b's bodies."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                body = json.loads(await reader.readexactly(length))
                status = b"503 Busy" if body["model"] == "b" else b"200 OK"
                answer = b'{"ok": true}'
                writer.write(
                    b"HTTP/1.1 "
                    + status
                    + b"\r\nContent-Length: "
                    + str(len(answer)).encode()
                    + b"\r\n\r\n"
                    + answer
                )
                await writer.drain()
        except asyncio.IncompleteReadError:
            writer.close()

    async def scenario() -> TaggedLoad:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        bodies = mixed_bodies([f"t{i}" for i in range(50)], [("a", 4), ("b", 1)])
        async with server:
            return await run_tagged(f"http://127.0.0.1:{port}/v1/predict", bodies, 4, 0.3)

    load = asyncio.run(scenario())
    assert load.samples, "the loop answered nothing"
    for sample in load.samples:
        assert sample.ok == (sample.tag == "a")
        assert sample.tag == ("b" if sample.body_index in _b_indices() else "a")


def _b_indices() -> set[int]:
    bodies = mixed_bodies([f"t{i}" for i in range(50)], [("a", 4), ("b", 1)])
    return {i for i, (tag, _) in enumerate(bodies) if tag == "b"}
