"""Registry and serving cost of a detector: log + register, server start, HTTP latency.

    python benchmarks/serving.py bundles/overlapping/proposed/bundle.pt data/overlapping --requests 5

Registers the bundle in a throwaway SQLite store, serves it with ``mtsed serve`` (``mlflow
models serve``), and times requests for one evaluation recording against ``Bundle.detect``
in-process, checking that all find the same events; requests send the path (shared disk)
and the audio bytes (base64 in the JSON body).
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from mtsed.adapters import registry
from mtsed.adapters import servers as server
from mtsed.data.datasets import load_dataset
from mtsed.detection.bundle import load_bundle
from mtsed.io.audio import audio_duration


def _post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def _median_seconds(call, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("data", type=Path, help="data set folder; its first evaluation recording is the request")
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--port", type=int, default=5099)
    args = parser.parse_args()
    dataset = load_dataset(args.data)
    audio = dataset.audio_path(dataset.evaluation()[0]).resolve()
    bundle = load_bundle(args.bundle)
    in_process, events = _median_seconds(lambda: bundle.detect(audio, str(audio))[0], args.requests)

    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        client = MlflowClient(uri)
        run_id = client.create_run(
            client.create_experiment("bench", artifact_location=Path(tmp, "a").as_uri())
        ).info.run_id
        started = time.perf_counter()
        version = registry.log_detector(uri, run_id, args.bundle, "bench-detector", audio)
        register = time.perf_counter() - started
        assert version == "1", "registration failed (see the warning above)"
        started = time.perf_counter()
        process = subprocess.Popen(
            server.serve_command("models:/bench-detector/1", port=args.port),
            env={**server.serve_env(), "MLFLOW_TRACKING_URI": uri},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            server.wait_until_up(f"http://127.0.0.1:{args.port}/ping", process)
            start = time.perf_counter() - started
            url = f"http://127.0.0.1:{args.port}/invocations"
            payload = {"dataframe_split": {"columns": ["path"], "data": [[str(audio)]]}}
            http, answer = _median_seconds(lambda: _post(url, payload), args.requests)
            encoded = base64.b64encode(audio.read_bytes()).decode()
            as_bytes = {"dataframe_split": {"columns": ["audio_base64", "name"], "data": [[encoded, audio.name]]}}
            http_bytes, answer_bytes = _median_seconds(lambda: _post(url, as_bytes), args.requests)
        finally:
            process.terminate()
            process.wait()
    served = [(r["onset"], r["offset"], r["event_label"]) for r in answer["predictions"]]
    assert served == [(e.onset, e.offset, e.label) for e in events], "served events differ from Bundle.detect"
    from_bytes = [(r["onset"], r["offset"], r["event_label"]) for r in answer_bytes["predictions"]]
    assert from_bytes == served, "events from audio bytes differ from events from the path"
    seconds = audio_duration(audio)
    print(
        f"| {bundle.system} | {len(bundle.folds)} | {seconds:.1f} | {register:.1f} | {start:.1f} | "
        f"{in_process:.2f} ({seconds / in_process:.0f}x) | {http:.2f} ({seconds / http:.0f}x) | "
        f"{http_bytes:.2f} ({len(encoded) / 1e6:.1f} MB base64) | {len(events)} |"
    )


if __name__ == "__main__":
    sys.exit(main())
