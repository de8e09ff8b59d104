"""Property-based fuzz of every route with hypothesis, over real HTTP against a real stack.

Where test_contract.py generates requests from the OpenAPI document, this module
generates what no schema describes: arbitrary JSON values and shapes, text from
every Unicode plane with surrogates (escaped and as raw CESU-8 bytes), combining
marks, right-to-left and zero-width characters, long emoji ZWJ sequences and NUL,
arbitrary bytes under arbitrary content types, query strings and headers. The
property, for every answer:

- no 5xx but 503 and 504, and those only with their documented errors;
- every error is JSON `{"error": <a documented name>, "detail": <text>, "request_id": ...}`;
- a 2xx predict answers one prediction per text, in order (texts with known
  answers are mixed in at random positions and must get exactly those answers);
- a 202 job answer has an id that the job's status URL then reports.

Bounded and derandomized (the same examples on every run, no example database,
no deadline, no shrinking): one stack for the module, time measured in the README.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_from_bytes

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, note, reject, settings
from hypothesis import strategies as st

from spectrum.shared.errors import SpectrumError
from tests.integration.stack import Stack

MAX_TEXTS = 8
MAX_CHARS = 300
JOB_MAX_TEXTS = 40
MAX_BODY = 16_384

# No shrinking: a failure is reported as found, so a failing run stays as bounded as a
# passing one (shrinking over HTTP took minutes).
FUZZ = settings(
    phases=[Phase.explicit, Phase.generate],
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _error_names(kind: type[SpectrumError]) -> set[str]:
    return {kind.__name__}.union(*(_error_names(sub) for sub in kind.__subclasses__()))


# Every error name a client may meet; a 5xx may only be one of those retried later.
ERROR_NAMES = _error_names(SpectrumError)
RETRYABLE = {
    503: {"Overloaded", "NoWorkerAvailable", "BrokerUnavailable", "BackendUnavailable"},
    504: {"DeadlineExceeded"},
}
# Texts whose answers are learned once, alone; mixed into fuzzed lists, they show
# whether each answer went to its own text.
ANCHORS = (
    "I love this film, it is wonderful, brilliant and great!",
    "This is terrible, awful, horrible and I hate it.",
    "A table, four chairs and a window.",
)

# --- text -----------------------------------------------------------------------------

SPECIAL = [
    "\x00",
    "\t",
    "\n",
    "\r",
    " ",
    "\u00a0",
    "\u3000",
    "\u0085",
    "\u2028",
    "\u2029",
    "\u200b",  # zero-width space
    "\u200c",  # zero-width non-joiner
    "\u200d",  # zero-width joiner
    "\u2060",  # word joiner
    "\ufeff",  # BOM / zero-width no-break space
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\u2067",  # right-to-left isolate
    "\u0301",  # combining acute
    "\u0338",  # combining long solidus overlay
    "\u20dd",  # combining enclosing circle
    "\ufffd",
    "\ufffe",
    "\uffff",
    "\U0001f600",
    "\U000e0001",  # language tag
    "\U0010ffff",
    '"',
    "\\",
    "%",
    ",",
    "\x1b",
    "\x7f",
]
EMOJI = ["👩", "👨", "👧", "👦", "🏽", "🏿", "❤\ufe0f", "🔥", "🏳\ufe0f", "🌈", "\U0001f9d1"]

any_code_point = st.integers(0, 0x10FFFF).map(chr)  # every plane, surrogates included
surrogate = st.integers(0xD800, 0xDFFF).map(chr)
character = st.one_of(
    st.characters(),  # hypothesis' own mix of all planes (no surrogates)
    any_code_point,
    st.sampled_from(SPECIAL),
    surrogate,
    st.sampled_from("abc xyz"),
)
zwj_sequence = st.lists(st.sampled_from(EMOJI), min_size=2, max_size=40).map("\u200d".join)
short_text = st.text(character, max_size=30)
text = st.one_of(
    short_text,
    zwj_sequence,
    st.sampled_from(ANCHORS),
    st.tuples(st.sampled_from(ANCHORS), st.text(character, max_size=5)).map("".join),
    # Around the length limit: fuzzed characters at either end of filler (drawing
    # hundreds of characters one by one made generation the slowest part of the fuzz).
    st.tuples(short_text, st.integers(MAX_CHARS - 2, MAX_CHARS + 2), st.booleans()).map(
        lambda p: (p[0] + "é" * p[1])[: p[1]] if p[2] else ("é" * p[1] + p[0])[-p[1] :]
    ),
)
json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=8,
)


@st.composite
def text_lists(draw: st.DrawFn, max_size: int) -> list[str]:
    """Lists of fuzzed texts with anchors at random places, and sometimes one repeated."""
    texts = draw(st.lists(text, max_size=max_size))
    for anchor in draw(st.lists(st.sampled_from(ANCHORS), max_size=3)):
        texts.insert(draw(st.integers(0, len(texts))), anchor)
    if texts and draw(st.booleans()):
        texts.insert(draw(st.integers(0, len(texts))), draw(st.sampled_from(texts)))
    return texts


def encode_json(value: Any, how: str) -> bytes:
    """JSON bytes three ways: surrogates escaped, raw (CESU-8 bytes), or as UTF-16."""
    if how == "escaped":
        return json.dumps(value, ensure_ascii=True).encode()
    raw = json.dumps(value, ensure_ascii=False)
    if how == "raw":
        return raw.encode("utf-8", "surrogatepass")
    return raw.encode("utf-16", "surrogatepass")


json_encoding = st.sampled_from(["escaped", "escaped", "raw", "raw", "utf-16"])

# --- HTTP parts -----------------------------------------------------------------------


def quoted(value: str) -> str:
    """Percent-encoded UTF-8, surrogates as CESU-8 bytes: what a careless client sends."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


# Header values as h11 lets a client send them: visible ASCII and obs-text bytes.
header_value = st.binary(max_size=40).map(
    lambda raw: bytes(b if 0x21 <= b <= 0x7E or b >= 0x80 else 0x2D for b in raw)
)
content_type = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=latin-1",
            "text/csv",
            "text/plain",
            "application/x-ndjson",
            "application/jsonl",
            "multipart/form-data",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
            "application/xml",
            "*/*",
            ";;;",
        ]
    ),
    header_value.map(lambda raw: raw.decode("latin-1")),
)
FUZZ_HEADERS = [
    "Accept",
    "Accept-Encoding",
    "Accept-Charset",
    "Authorization",
    "X-API-Key",
    "X-Request-ID",
    "Idempotency-Key",
    "Origin",
    "Cookie",
    "Range",
    "If-None-Match",
    "Access-Control-Request-Method",
    "X-Forwarded-For",
]
headers = st.dictionaries(
    st.one_of(st.sampled_from(FUZZ_HEADERS), st.from_regex(r"\AX-[A-Za-z0-9-]{1,12}\Z")),
    header_value,
    max_size=4,
)
query_part = st.one_of(
    st.binary(max_size=20), text.map(lambda t: t.encode("utf-8", "surrogatepass"))
)
QUERY_NAMES = ["text_column", "callback_url", "format", "text", "texts", "q", ""]
query = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(QUERY_NAMES), st.text(max_size=5)).map(str.encode), query_part
    ),
    max_size=3,
).map(lambda pairs: "&".join(f"{quote_from_bytes(k)}={quote_from_bytes(v)}" for k, v in pairs))
raw_query = st.sampled_from(
    ["%", "%zz", "a=%ED%A0%80", "text_column=%ED%A0%80", "=&=", "format=csv%00"]
)


# --- the property ---------------------------------------------------------------------


def check_answer(response: httpx.Response, *, head: bool = False) -> Any:
    """The shape every answer must have; the decoded JSON body (None when not JSON)."""
    status = response.status_code
    media = response.headers.get("content-type", "").split(";")[0]
    if head or status in (204, 304):
        return None
    body = response.json() if media == "application/json" else None
    if status >= 400:
        assert media == "application/json", (status, response.text[:500])
        if response.request.url.path == "/readyz" and status == 503:
            assert body["status"] == "not ready", body
            return body
        assert isinstance(body, dict), body
        assert isinstance(body.get("error"), str), body
        assert isinstance(body.get("detail"), str), body
        assert body["error"] in ERROR_NAMES, body
        assert body["request_id"] == response.headers["x-request-id"], body
        if status >= 500:
            assert body["error"] in RETRYABLE.get(status, set()), (status, body)
    return body


# The whole fuzz runs twice: with keys off, and with keys on (every request carries this
# client key, unless a fuzzed header replaces it; no rate limit, so that the examples
# reach past the gate).
FUZZ_KEY = "fuzz-client-key-" + "k" * 24


@pytest.fixture(scope="module", params=["keys-off", "keys-on"])
def stack(
    request: pytest.FixtureRequest, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    keys: dict[str, Any] = {}
    if request.param == "keys-on":
        keys = {"api_keys": FUZZ_KEY, "rate_limit_per_s": 0}
    stack = Stack(
        tmp_path_factory.mktemp("fuzz"),
        redis_url,
        **keys,
        max_texts_per_request=MAX_TEXTS,
        max_text_chars=MAX_CHARS,
        job_max_texts=JOB_MAX_TEXTS,
        job_chunk_size=8,
        max_body_bytes=MAX_BODY,
        job_max_upload_bytes=MAX_BODY,
        cors_origins="https://page.example",
    )
    try:
        stack.start_worker()
        stack.start_api()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[httpx.Client]:
    headers = {"X-API-Key": FUZZ_KEY} if stack.settings.get("api_keys") else {}
    with httpx.Client(base_url=stack.base_url, timeout=30, headers=headers) as client:
        yield client


@pytest.fixture(scope="module")
def anchors(client: httpx.Client) -> dict[str, dict[str, float]]:
    """Each anchor's answer, asked alone."""
    answers = {}
    for anchor in ANCHORS:
        response = client.post("/v1/predict", json={"text": anchor})
        assert response.status_code == 200, response.text
        answers[anchor] = response.json()["predictions"][0]["probabilities"]
    assert len({json.dumps(p, sort_keys=True) for p in answers.values()}) == len(ANCHORS)
    return answers


# Statuses answered per test, to show (and check) that the fuzz reached past validation.
SEEN: dict[str, Counter[int]] = defaultdict(Counter)


def send(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    body = kwargs.get("content") or b""
    shown = repr(body[:600]) if isinstance(body, bytes) else "(chunked)"
    note(f"{method} {url[:300]} headers={kwargs.get('headers')!r} body={shown}")
    try:
        response = client.request(method, url, **kwargs)
    except httpx.LocalProtocolError:  # a request h11 will not send is no request to fuzz
        reject()
    test = os.environ["PYTEST_CURRENT_TEST"].split("::")[1].split(" ")[0].split("[")[0]
    SEEN[test][response.status_code] += 1
    return response


# --- POST /v1/predict -----------------------------------------------------------------

predict_body = st.one_of(
    st.builds(lambda t: {"text": t}, text),
    st.builds(lambda ts: {"texts": ts}, text_lists(MAX_TEXTS + 2)),
    st.builds(lambda t, ts: {"text": t, "texts": ts}, text, text_lists(3)),
    st.builds(
        lambda ts, extra: {"texts": ts, **extra},
        text_lists(3),
        st.dictionaries(text, json_value, max_size=2),
    ),
    st.builds(lambda v: {"texts": v}, json_value),
    st.builds(lambda v: {"text": v}, json_value),
    json_value,
    # Just over the body limit (413), or a long text under it (422): one ASCII text, so
    # the body is its length plus 12 bytes as UTF-8 (twice that as UTF-16), whatever
    # the encoding drawn; half the range is over the limit.
    st.integers(MAX_BODY - 52, MAX_BODY + 28).map(lambda n: {"text": "a" * n}),
)


def body_content(data: bytes, chunked: bool) -> bytes | Iterator[bytes]:
    """The body with a Content-Length, or chunked (no length: the limit counts as it reads)."""
    if not chunked:
        return data
    half = len(data) // 2
    return iter([data[:half], data[half:]])


@settings(FUZZ, max_examples=500)
@given(
    body=predict_body,
    how=json_encoding,
    ctype=st.one_of(st.just("application/json"), content_type),
    extra=headers,
    chunked=st.booleans(),
)
def test_predict(
    client: httpx.Client,
    anchors: dict[str, dict[str, float]],
    body: Any,
    how: str,
    ctype: str,
    extra: dict[str, bytes],
    chunked: bool,
) -> None:
    data = encode_json(body, how)
    response = send(
        client,
        "POST",
        "/v1/predict",
        content=body_content(data, chunked),
        headers={**extra, "Content-Type": ctype.encode("latin-1")},
    )
    answer = check_answer(response)
    if response.status_code != 200:
        return
    texts = [body["text"]] if "text" in body else body["texts"]
    predictions = answer["predictions"]
    assert len(predictions) == len(texts)
    for sent, prediction in zip(texts, predictions, strict=True):
        if sent in anchors:
            assert prediction["probabilities"] == anchors[sent], (texts, predictions)
    seen: dict[str, Any] = {}
    for sent, prediction in zip(texts, predictions, strict=True):
        key = " ".join(sent.split())
        if key in seen:  # the same text twice: the same answer twice
            assert prediction["probabilities"] == seen[key]["probabilities"]
        seen[key] = prediction


# --- POST /v1/jobs --------------------------------------------------------------------


def csv_bytes(column: str, texts: list[str], how: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", column])
    for index, item in enumerate(texts):
        writer.writerow([index, item])
    return (
        out.getvalue().encode("utf-8", "surrogatepass")
        if how != "utf-16"
        else out.getvalue().encode("utf-16", "surrogatepass")
    )


def jsonl_bytes(column: str, texts: list[Any], how: str) -> bytes:
    lines = [encode_json({column: item} if i % 2 else item, how) for i, item in enumerate(texts)]
    return b"\n".join(lines)


def multipart(
    fields: list[tuple[bytes, bytes | None, bytes, bytes]], charset: str | None
) -> tuple[bytes, str]:
    """A multipart body by hand: (name, filename, part content type, content) per part."""
    boundary = "fuzz-boundary-7d3"
    parts = []
    for name, filename, ctype, content in fields:
        disposition = b'form-data; name="' + name + b'"'
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        head = b"Content-Disposition: " + disposition + b"\r\n"
        if ctype:
            head += b"Content-Type: " + ctype + b"\r\n"
        parts.append(b"--" + boundary.encode() + b"\r\n" + head + b"\r\n" + content + b"\r\n")
    body = b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"
    kind = f"multipart/form-data; boundary={boundary}" + (f"; charset={charset}" if charset else "")
    return body, kind


column = st.one_of(st.just("text"), text)
param_bytes = st.one_of(
    st.sampled_from([b"text", b"+2AA-", b"https://example.com/hook", b"http://127.0.0.1/x"]),
    text.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=20),
)


@st.composite
def job_requests(draw: st.DrawFn) -> tuple[bytes, str, dict[str, str]]:
    """(body, content type, query parameters) of one submission, in any of its forms."""
    kind = draw(st.sampled_from(["json", "json", "csv", "jsonl", "multipart", "big", "bytes"]))
    how = draw(json_encoding)
    texts = draw(text_lists(JOB_MAX_TEXTS // 4))
    params: dict[str, str] = {}
    if draw(st.booleans()):
        params["text_column"] = draw(column)
    if draw(st.integers(0, 3)) == 0:
        params["callback_url"] = draw(st.one_of(text, st.just("https://example.com/hook")))
    name = params.get("text_column", "text")
    if kind == "json":
        body: Any = draw(
            st.one_of(
                st.just({"texts": texts}),
                st.builds(lambda url: {"texts": texts, "callback_url": url}, json_value),
                json_value,
            )
        )
        return (
            encode_json(body, how),
            draw(st.one_of(st.just("application/json"), content_type)),
            params,
        )
    if kind == "csv":
        return (
            csv_bytes(name, texts, how),
            draw(st.sampled_from(["text/csv", "text/plain"])),
            params,
        )
    if kind == "jsonl":
        rows = draw(st.one_of(st.just(texts), st.lists(json_value, max_size=4)))
        return jsonl_bytes(name, rows, how), "application/x-ndjson", params
    if kind == "multipart":
        fmt = draw(st.sampled_from(["csv", "jsonl"]))
        content = csv_bytes(name, texts, how) if fmt == "csv" else jsonl_bytes(name, texts, how)
        filename = draw(
            st.one_of(
                st.just(f"rows.{fmt}".encode()),
                param_bytes.map(
                    lambda b: b.replace(b'"', b"").replace(b"\r", b"").replace(b"\n", b"")
                ),
            )
        )
        fields = [
            (
                b"file",
                filename,
                draw(
                    st.sampled_from(
                        [b"", b"text/csv", b"application/x-ndjson", b"application/octet-stream"]
                    )
                ),
                content,
            )
        ]
        for field in draw(
            st.lists(
                st.sampled_from([b"text_column", b"callback_url", b"_charset_", b"other"]),
                max_size=3,
            )
        ):
            fields.append((field, None, b"", draw(param_bytes)))
        charset = draw(st.sampled_from([None, "utf-8", "utf-7", "latin-1", "utf-16", "nonsense"]))
        body_bytes, ctype = multipart(fields, charset)
        return body_bytes, ctype, params
    if kind == "big":  # over the upload limit
        size = draw(st.integers(MAX_BODY - 40, MAX_BODY + 40))
        return csv_bytes(name, ["a text"] * (size // 9), how), "text/csv", params
    return draw(st.binary(max_size=200)), draw(content_type), params


@settings(FUZZ, max_examples=400)
@given(
    job=job_requests(),
    key=st.one_of(st.none(), header_value),
    extra=headers,
    chunked=st.booleans(),
)
def test_submit_job(
    client: httpx.Client,
    job: tuple[bytes, str, dict[str, str]],
    key: bytes | None,
    extra: dict[str, bytes],
    chunked: bool,
) -> None:
    data, ctype, params = job
    fuzzed: dict[str, Any] = {**extra, "Content-Type": ctype.encode("latin-1")}
    if key is not None:
        fuzzed["Idempotency-Key"] = key
    url = "/v1/jobs"
    if params:
        url += "?" + "&".join(f"{k}={quoted(v)}" for k, v in params.items())
    response = send(client, "POST", url, content=body_content(data, chunked), headers=fuzzed)
    answer = check_answer(response)
    if response.status_code not in (200, 202):
        return
    assert isinstance(answer["id"], str), answer
    assert answer["id"], answer
    status = client.get(answer["status_url"])
    assert status.status_code == 200, status.text
    assert check_answer(status)["id"] == answer["id"]


# --- GET/DELETE /v1/jobs/{id}, /v1/jobs/{id}/results -----------------------------------


@pytest.fixture(scope="module")
def job_id(client: httpx.Client) -> str:
    response = client.post("/v1/jobs", json={"texts": ["good", "bad", "fine"]})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


# A job id as it goes in the path: the real one, well-formed unknown ones, fuzzed
# text (percent-encoded) and a few raw path tricks.
job_ids = st.one_of(
    st.just("KNOWN"),
    st.just("KNOWN"),
    st.from_regex(r"\A[0-9a-f]{32}\Z"),
    text.map(quoted),
    st.sampled_from(["..", ".", "%2e%2e", "%00", "%ED%A0%80", "a/b", "%20"]),
)


@settings(FUZZ, max_examples=300)
@given(
    method=st.sampled_from(["GET", "GET", "DELETE", "HEAD", "POST", "PUT"]),
    raw_id=job_ids,
    results=st.booleans(),
    fmt=st.one_of(st.none(), st.sampled_from(["csv", "ndjson", "xml", ""]), text),
    extra=headers,
)
def test_job_routes(
    client: httpx.Client,
    job_id: str,
    method: str,
    raw_id: str,
    results: bool,
    fmt: str | None,
    extra: dict[str, bytes],
) -> None:
    ident = job_id if raw_id == "KNOWN" else raw_id
    path = "/v1/jobs/" + (
        ident if "%" in ident else quote(ident.encode("utf-8", "surrogatepass"), safe="")
    )
    if results:
        path += "/results"
    if fmt is not None:
        path += "?format=" + quoted(fmt)
    response = send(client, method, path, headers=extra)
    body = check_answer(response, head=method == "HEAD")
    if raw_id == "KNOWN" and method == "GET" and not results and response.status_code == 200:
        assert body["id"] == job_id


# --- everything else: any method, path, query, header and body --------------------------

PATHS = [
    "/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/models",
    "/v1/ui-config",
    "/v1/predict",
    "/v1/jobs",
    "/openapi.json",
    "/docs",
    "/redoc",
    "/static/app.css",
    "/static/../pyproject.toml",
    "/static/%2e%2e/%2e%2e/pyproject.toml",
    "/v1/",
    "/v1/nothing",
    "/%ED%A0%80",
    "//v1//predict",
]


@settings(FUZZ, max_examples=500)
@given(
    method=st.sampled_from(
        ["GET", "GET", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    ),
    path=st.one_of(
        st.sampled_from(PATHS), st.sampled_from(PATHS), text.map(lambda t: "/" + quoted(t))
    ),
    qs=st.one_of(query, raw_query),
    extra=headers,
    body=st.one_of(
        st.just(b""), st.binary(max_size=100), json_value.map(lambda v: encode_json(v, "raw"))
    ),
    ctype=st.one_of(st.none(), content_type),
)
def test_every_route(
    client: httpx.Client,
    method: str,
    path: str,
    qs: str,
    extra: dict[str, bytes],
    body: bytes,
    ctype: str | None,
) -> None:
    fuzzed: dict[str, Any] = dict(extra)
    if ctype is not None:
        fuzzed["Content-Type"] = ctype.encode("latin-1")
    url = path + ("?" + qs if qs else "")
    response = send(client, method, url, headers=fuzzed, content=body or None)
    check_answer(response, head=method == "HEAD")


# --- what the fuzz found first, pinned: text that is not Unicode, at every entry point ----

CSV = "text/csv"
JSONL = "application/x-ndjson"
UTF7_SURROGATE = b"+2AA-"  # UTF-7 for a lone U+D800: a multipart charset can make one


@pytest.mark.parametrize(
    ("path", "body", "ctype", "reason"),
    [
        (
            "/v1/predict",
            b'{"text": "\\ud800"}',
            "application/json",
            r"^texts\[0\]: character 0 is a lone surrogate \(U\+D800\); send valid UTF-8$",
        ),
        (
            "/v1/predict",
            b'{"texts": ["fine", "\\ude00\\ud83d"]}',
            "application/json",
            r"^texts\[1\]: character 0 is a lone surrogate \(U\+DE00\)",
        ),
        (
            "/v1/predict",
            b'{"texts": ["ab\xed\xa0\x80"]}',  # CESU-8 bytes inside the JSON string
            "application/json",
            r"^texts\[0\]: character 2 is a lone surrogate \(U\+D800\)",
        ),
        ("/v1/jobs", b'{"texts": ["\\ude00\\ud83d"]}', "application/json", "surrogate"),
        ("/v1/jobs", b'{"texts": ["ab\xed\xa0\x80"]}', "application/json", "line 1 column"),
        (
            "/v1/jobs",
            b'{"text": "fine"}\n{"text": "bad \\ud800"}\n',
            JSONL,
            r"^row 2: character 4 is a lone surrogate \(U\+D800\)",
        ),
        ("/v1/jobs", b"text\nab\xed\xa0\x80\n", CSV, r"^the file is not UTF-8 \(byte 7\)"),
        (
            "/v1/jobs",
            multipart([(b"file", b"t.jsonl", b"", b'"\\udfff"')], None),
            "",
            r"^row 1: character 0 is a lone surrogate \(U\+DFFF\)",
        ),
        (
            "/v1/jobs",
            multipart(
                [
                    (b"file", b"t.csv", b"", b"text\nok\n"),
                    (b"text_column", None, b"", UTF7_SURROGATE),
                ],
                "utf-7",
            ),
            "",
            r"^text_column: character 0 is a lone surrogate \(U\+D800\)",
        ),
        (
            "/v1/jobs",
            multipart(
                [
                    (b"file", b"t.csv", b"", b"text\nok\n"),
                    (b"callback_url", None, b"", UTF7_SURROGATE),
                ],
                "utf-7",
            ),
            "",
            r"^callback_url: character 0 is a lone surrogate \(U\+D800\)",
        ),
    ],
    ids=[
        "predict-escaped",
        "predict-reversed-pair",
        "predict-cesu8",
        "job-json-reversed-pair",
        "job-json-cesu8",
        "job-jsonl-escaped",
        "job-csv-cesu8",
        "job-multipart-jsonl-escaped",
        "job-multipart-utf7-text_column",
        "job-multipart-utf7-callback_url",
    ],
)
def test_text_that_is_not_unicode_is_422_with_its_position(
    client: httpx.Client, path: str, body: bytes | tuple[bytes, str], ctype: str, reason: str
) -> None:
    data, ctype = body if isinstance(body, tuple) else (body, ctype)
    response = client.post(path, content=data, headers={"Content-Type": ctype})
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["error"] == "InvalidInput"
    assert re.search(reason, answer["detail"]), answer["detail"]


def test_the_fuzz_reached_every_outcome() -> None:
    """Not only refusals: answers, jobs and each kind of refusal were all generated."""
    print({name: dict(sorted(seen.items())) for name, seen in SEEN.items()})
    assert {200, 413, 422} <= set(SEEN["test_predict"]), SEEN["test_predict"]
    assert {202, 413, 415, 422} <= set(SEEN["test_submit_job"]), SEEN["test_submit_job"]
    assert {200, 404, 405} <= set(SEEN["test_job_routes"]), SEEN["test_job_routes"]
    assert {200, 404, 405} <= set(SEEN["test_every_route"]), SEEN["test_every_route"]


def test_no_text_broke_anything_behind_the_answers(stack: Stack) -> None:
    """After all of the above, no error in the API's or the worker's log: nothing reached
    the last-resort handler, and no task or job chunk failed (the worker never got a
    text it could not handle, though a job's 202 says nothing of that)."""
    for proc in stack.procs:
        lines = [json.loads(line) for line in proc.log().splitlines() if line.startswith("{")]
        assert lines, proc.name
        bad = [
            line
            for line in lines
            if line.get("level") in ("error", "critical")
            or str(line.get("event")).startswith("chunk failed")
        ]
        assert not bad, (proc.name, bad[:3])
