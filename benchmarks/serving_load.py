"""The two servers a team leaves running, under load: the served detector and the tracking server.

    python benchmarks/serving_load.py bundles/overlapping/baseline/bundle.pt data/overlapping --seconds 20

Detector (``mtsed serve``, loopback only): real 10-s clips cut from the data set's recordings
are posted by 1, 4 and 16 concurrent clients for a fixed time each, half as uploads
(``audio_base64``) and half as paths under ``MTSED_AUDIO_ROOTS``.  One request in four is a bad
one (bad base64, an upload over ``MTSED_MAX_AUDIO_BYTES``, wrong columns, a path outside the
roots): each must get a 4xx, and the good ones must all succeed.  Reported: throughput,
p50/p95/p99 latency of good requests, errors, and the serving processes' memory (RSS of the
process tree) at the start and end of each level.

Tracking server (``mtsed ui``): 8 processes log a stage run each at once (a param, two metrics
of 100 steps, an artefact), as a Kubeflow fan-out does; every run, metric step and artefact is then
read back.  Every loop is bounded by time or count and stops by itself.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import soundfile as sf

from mtsed.adapters import registry
from mtsed.adapters import servers as server
from mtsed.data.datasets import load_dataset

CLIP_SECONDS = 10.0
BAD_KINDS = ("bad-base64", "oversized", "wrong-columns", "outside-roots")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (Linux /proc), in MB."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cut_clips(data: Path, folder: Path, count: int) -> list[Path]:
    """``count`` real 10-s clips (16-bit WAV) from the data set's evaluation recordings."""
    dataset = load_dataset(data)
    clips = []
    for recording in dataset.evaluation():
        audio, rate = sf.read(dataset.audio_path(recording), dtype="float32", always_2d=True)
        step = int(CLIP_SECONDS * rate)
        for start in range(0, len(audio) - step + 1, step):
            path = folder / f"{recording.id}-{start // step}.wav"
            sf.write(path, audio[start : start + step], rate, subtype="PCM_16")
            clips.append(path)
            if len(clips) == count:
                return clips
    if not clips:
        raise SystemExit(f"{data}: no evaluation recording of at least {CLIP_SECONDS:.0f} s")
    return clips


def post(url: str, payload: dict, timeout: float = 300) -> tuple[int, bytes]:
    request = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def good_payload(clip: Path, encoded: str, as_upload: bool) -> dict:
    if as_upload:
        return {"dataframe_split": {"columns": ["audio_base64", "name"], "data": [[encoded, clip.name]]}}
    return {"dataframe_split": {"columns": ["path"], "data": [[str(clip)]]}}


def bad_payload(kind: str, oversized: str) -> dict:
    if kind == "bad-base64":
        return {"dataframe_split": {"columns": ["audio_base64"], "data": [["this is not base64!"]]}}
    if kind == "oversized":
        return {"dataframe_split": {"columns": ["audio_base64"], "data": [[oversized]]}}
    if kind == "wrong-columns":
        return {"dataframe_split": {"columns": ["file"], "data": [["a.wav"]]}}
    return {"dataframe_split": {"columns": ["path"], "data": [["/etc/passwd"]]}}


def load_level(
    url: str,
    clients: int,
    seconds: float,
    clips: list[Path],
    encoded: dict[Path, str],
    oversized: str,
    expected: dict[Path, str],
) -> dict:
    """``clients`` threads posting for ``seconds``: 3 good requests (uploads and paths in
    turn) then one bad, each thread in its own order."""
    results: list[tuple[str, int, float, bool]] = []  # kind, status, seconds, answer as expected
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        rng = random.Random(index)
        n = 0
        while time.monotonic() < deadline:
            if n % 4 == 3:
                kind = BAD_KINDS[(n // 4 + index) % len(BAD_KINDS)]
                payload = bad_payload(kind, oversized)
                clip = None
            else:
                clip = rng.choice(clips)
                kind = "upload" if (n + index) % 2 else "path"
                payload = good_payload(clip, encoded[clip], kind == "upload")
            started = time.perf_counter()
            status, body = post(url, payload)
            took = time.perf_counter() - started
            same = clip is None or (status == 200 and _events(body) == expected[clip])
            with lock:
                results.append((kind, status, took, same))
            n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    good = [r for r in results if r[0] in ("upload", "path")]
    bad = [r for r in results if r[0] in BAD_KINDS]
    latencies = sorted(r[2] for r in good)
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    return {
        "clients": clients,
        "requests": len(results),
        "good": len(good),
        "bad": len(bad),
        "good_per_s": len(good) / wall,
        "p50": q[49],
        "p95": q[94],
        "p99": q[98],
        "good_errors": sum(1 for r in good if r[1] != 200 or not r[3]),
        "bad_not_4xx": sum(1 for r in bad if not 400 <= r[1] < 500),
        "bad_p50": statistics.median(r[2] for r in bad) if bad else float("nan"),
    }


def _events(body: bytes) -> str:
    rows = json.loads(body)["predictions"]
    return json.dumps([(r["onset"], r["offset"], r["event_label"]) for r in rows])


def bench_detector(bundle: Path, data: Path, seconds: float, levels: list[int], clips_count: int) -> None:
    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "clips").mkdir()
        clips = cut_clips(data, tmp / "clips", clips_count)
        encoded = {c: base64.b64encode(c.read_bytes()).decode() for c in clips}
        limit = max(c.stat().st_size for c in clips) * 2
        oversized = base64.b64encode(os.urandom(limit + 1024)).decode()
        uri = f"sqlite:///{tmp}/mlflow.db"
        client = MlflowClient(uri)
        os.environ[registry.AUDIO_ROOTS_ENV] = str(tmp / "clips")  # the input example is a path under the roots
        run_id = client.create_run(
            client.create_experiment("bench", artifact_location=(tmp / "a").as_uri())
        ).info.run_id
        assert registry.log_detector(uri, run_id, bundle, "bench-detector", clips[0]) == "1", "registration failed"
        port = free_port()
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": uri,
            registry.AUDIO_ROOTS_ENV: str(tmp / "clips"),
            "MTSED_MAX_AUDIO_BYTES": str(limit),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "mtsed.cli", "serve", "models:/bench-detector/1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            server.wait_until_up(f"http://127.0.0.1:{port}/ping", process, seconds=300)
            url = f"http://127.0.0.1:{port}/invocations"
            idle = tree_rss_mb(process.pid)
            expected = {}
            for clip in clips:  # warm-up, and the events every later answer must repeat
                status, body = post(url, good_payload(clip, encoded[clip], as_upload=False))
                assert status == 200, body[:300]
                expected[clip] = _events(body)
            print(
                f"{len(clips)} clips of {CLIP_SECONDS:.0f} s; upload limit {limit:,} bytes; "
                f"{sum(len(json.loads(e)) for e in expected.values())} events in all"
            )
            print(
                "| clients | good requests | good/s | p50 s | p95 s | p99 s | good errors | bad requests | bad not 4xx "
                "| bad p50 s | server RSS MB start -> end |"
            )
            print("|---|---|---|---|---|---|---|---|---|---|---|")
            first = tree_rss_mb(process.pid)
            for clients in levels:
                before = tree_rss_mb(process.pid)
                row = load_level(url, clients, seconds, clips, encoded, oversized, expected)
                after = tree_rss_mb(process.pid)
                print(
                    f"| {clients} | {row['good']} | {row['good_per_s']:.2f} | {row['p50']:.2f} | {row['p95']:.2f} | "
                    f"{row['p99']:.2f} | {row['good_errors']} | {row['bad']} | {row['bad_not_4xx']} | "
                    f"{row['bad_p50']:.3f} | {before:.0f} -> {after:.0f} ({(after / before - 1) * 100:+.1f} %) |",
                    flush=True,
                )
            last = tree_rss_mb(process.pid)
            print(
                f"\nserver RSS: {idle:.0f} MB up and idle; over all levels {first:.0f} MB after warm-up -> {last:.0f} "
                "MB at the end "
                f"({(last / first - 1) * 100:+.1f} %; the target is at most +10 %)"
            )
        finally:
            process.terminate()
            process.wait(timeout=60)


LOGGER = """
import sys, mlflow
from mlflow.tracking import MlflowClient
uri, experiment, index, steps, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
client = MlflowClient(uri)
run = client.create_run(experiment, tags={"mtsed.stage": "train", "mtsed.fold": str(index)}, run_name=f"stage-{index}")
rid = run.info.run_id
client.log_param(rid, "fold", index)
for step in range(steps):
    client.log_metric(rid, "train_loss", 1.0 / (step + 1), step=step)
    client.log_metric(rid, "validation_loss", 2.0 / (step + 1), step=step)
path = f"{folder}/history-{index}.json"
open(path, "w").write('{"fold": %d}' % index)
client.log_artifact(rid, path)
client.set_terminated(rid)
print("RUN_ID", rid)
"""


def bench_tracking(processes: int, steps: int) -> None:
    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        port = free_port()
        ui = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mtsed.cli",
                "ui",
                "--port",
                str(port),
                "--backend-store-uri",
                f"sqlite:///{tmp}/mlflow.db",
                "--artifacts",
                str(tmp / "artefacts"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            uri = f"http://127.0.0.1:{port}"
            server.wait_until_up(f"{uri}/health", ui, seconds=300)
            client = MlflowClient(uri)
            experiment = client.create_experiment("fan-out")
            started = time.perf_counter()
            loggers = [
                subprocess.Popen(
                    [sys.executable, "-c", LOGGER, uri, experiment, str(i), str(steps), str(tmp)],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for i in range(processes)
            ]
            outputs = [p.communicate(timeout=600)[0] for p in loggers]
            ids = [line.split()[1] for out in outputs for line in out.splitlines() if line.startswith("RUN_ID ")]
            took = time.perf_counter() - started
            failed = sum(p.returncode != 0 for p in loggers)
            runs = client.search_runs([experiment], max_results=1000)
            lost_runs = processes - sum(1 for r in runs if r.info.run_id in ids and r.info.status == "FINISHED")
            lost_steps = sum(
                2 * steps
                - len(client.get_metric_history(r.info.run_id, "train_loss"))
                - len(client.get_metric_history(r.info.run_id, "validation_loss"))
                for r in runs
            )
            lost_artefacts = sum(1 for r in runs if not client.list_artifacts(r.info.run_id))
            print(
                f"| {processes} | {steps * 2} | {took:.1f} | {processes * steps * 2 / took:.0f} | {failed} | "
                f"{lost_runs} | "
                f"{lost_steps} | {lost_artefacts} |"
            )
        finally:
            ui.terminate()
            ui.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("data", type=Path, help="data set folder; 10-s clips are cut from its evaluation recordings")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each concurrency level")
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument(
        "--processes", type=int, default=8, help="concurrent stage processes logging to the tracking server"
    )
    parser.add_argument("--steps", type=int, default=100, help="metric steps per logged metric")
    args = parser.parse_args()
    bench_detector(
        args.bundle.resolve(), args.data, args.seconds, [int(c) for c in args.clients.split(",")], args.clips
    )
    print(
        "\n| stage processes | metric points per run | seconds | metric writes/s | failed | lost runs | lost steps | "
        "lost artefacts |"
    )
    print("|---|---|---|---|---|---|---|---|")
    bench_tracking(args.processes, args.steps)


if __name__ == "__main__":
    sys.exit(main())
