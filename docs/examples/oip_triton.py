"""Classify texts through Spectrum's Open Inference Protocol with Triton's HTTP client.

    pip install 'tritonclient[http]' numpy
    python oip_triton.py 127.0.0.1:8000 sentiment-minilm "What a wonderful film." "Dull."

tests/integration/test_oip.py runs this file against a real stack.
"""

import sys

import numpy as np
import tritonclient.http as triton

url, model, *texts = sys.argv[1:]
client = triton.InferenceServerClient(url=url)  # host:port, no scheme
# With API keys on: client.infer(..., headers={"Authorization": "Bearer <key>"}).
assert client.is_server_ready()

labels = client.get_model_metadata(model)["parameters"]["labels"]  # the columns' order

text = triton.InferInput("text", [len(texts)], "BYTES")
text.set_data_from_numpy(np.array(texts, dtype=np.object_))  # binary tensor data by default
result = client.infer(model, [text])

for given, label, row in zip(
    texts, result.as_numpy("label"), result.as_numpy("probabilities"), strict=True
):
    shown = ", ".join(f"{name} {p:.3f}" for name, p in zip(labels, row, strict=True))
    print(f"{label.decode()}\t{shown}\t{given}")
client.close()
