"""The whole benchmark: ingest, in-process, HTTP, scale (and, when asked, ingest-scale) parts, into one result dict.

Each part is independent: a part that fails is recorded under `errors` and the others still run,
so one broken piece (say, the service) does not hide the figures of the rest.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from eval.bench import DEFAULT_PARTS
from eval.bench.http_load import HttpOptions, run_http
from eval.bench.ingest_rate import IngestOptions, run_ingest
from eval.bench.ingest_scale import IngestScaleOptions, run_ingest_scale
from eval.bench.inprocess import InprocessOptions, load_questions, run_inprocess
from eval.bench.postgres import PostgresOptions
from eval.bench.reference import QueryEncoder, torch_encoder
from eval.bench.report import evaluate_targets
from eval.bench.scale import ScaleOptions
from rag.protocols import Embedder
from rag.settings import Settings
from rag.store.index_files import index_exists

SCHEMA = 1
INDEX_PARTS = {"ingest", "inprocess", "http"}  # the parts that measure an index of seeds/


@dataclass
class BenchOptions:
    index: Path | None = None
    out: Path = Path("eval/out/bench")
    quick: bool = False
    parts: tuple[str, ...] = DEFAULT_PARTS
    scale_sizes: tuple[int, ...] | None = None
    scale_all: bool = False  # every index type at every size (HNSW at 1M: many minutes)
    ingest_sizes: tuple[int, ...] | None = None  # article counts of the ingest-scale part
    ingest_resume_at: int | None = None  # its size killed halfway and resumed (None: the first, 0: none)
    store: str | None = None  # a postgresql:// URL: the postgres part measures that server
    log: Callable[[str], None] = field(default=lambda message: print(message, file=sys.stderr, flush=True))

    def ingest_scale_options(self) -> IngestScaleOptions:
        if self.quick:
            # Resumed at 80 articles: two checkpoint batches, so the kill lands between them.
            options = IngestScaleOptions(sizes=(40, 80), resume_at=80, raw_texts=64, log=self.log)
        else:
            options = IngestScaleOptions(log=self.log)
        if self.ingest_sizes:
            options.sizes, options.resume_at = self.ingest_sizes, None
        if self.ingest_resume_at is not None:
            options.resume_at = self.ingest_resume_at
        return options

    def ingest_options(self) -> IngestOptions:
        if self.quick:
            return IngestOptions(chunks=16, runs=3, noop_runs=3, cli_noop_runs=1, log=self.log)
        return IngestOptions(chunks=256, runs=5, noop_runs=5, cli_noop_runs=3, log=self.log)

    def inprocess_options(self) -> InprocessOptions:
        return InprocessOptions(questions=30 if self.quick else 0, runs=3, log=self.log)

    def http_options(self) -> HttpOptions:
        log_path = self.out / "server.log"
        if self.quick:
            return HttpOptions(
                level_seconds=3.0, sequential_requests=15, warm_concurrency=0, log_path=log_path, log=self.log
            )
        return HttpOptions(level_seconds=10.0, sequential_requests=50, log_path=log_path, log=self.log)

    def postgres_options(self) -> PostgresOptions:
        if self.quick:
            return PostgresOptions(
                vectors=20_000, queries=50, ef_search=(64,), load_seconds=5.0, hybrid_chunks=0, log=self.log
            )
        return PostgresOptions(log=self.log)

    def scale_options(self) -> ScaleOptions:
        if self.quick:
            options = ScaleOptions(
                sizes=(10_000, 30_000), candidates=("flat", "ivf-sq8"), recall_queries=200, latency_queries=100,
                latency_passes=2, build_runs=3, build_budget_s=6.0, pass_budget_s=1.0,
            )
        else:
            options = ScaleOptions()
        if self.scale_sizes:
            options.sizes = self.scale_sizes
        options.all_sizes = self.scale_all
        return options


def machine_info() -> dict[str, Any]:
    import faiss
    import numpy

    info: dict[str, Any] = {
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "faiss": faiss.__version__,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return info


def run_bench(
    options: BenchOptions,
    settings: Settings | None = None,
    embedder_factory: Callable[[Settings], Embedder] | None = None,
    reference_encoder: Callable[[], QueryEncoder] | None = None,
) -> dict[str, Any]:
    """Run the selected parts; returns the bench.json content (the caller writes and prints it).

    The in-process part also times the plain torch + FAISS reference (`reference_encoder`; by
    default the real model, unless a custom embedder is being measured)."""
    started = time.perf_counter()
    settings = settings or Settings.from_env(index_dir=options.index)
    # The other parts measure the file store; the postgres part gets the URL itself.
    store, settings = options.store or settings.store, replace(settings, store=None)
    options.out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": options.quick,
        "parts": list(options.parts),
        "machine": machine_info(),
        "errors": {},
    }
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        index_dir, built = settings.index_dir, False
        if INDEX_PARTS & set(options.parts):  # scale, postgres and ingest-scale make their own
            index_dir, built = _index_for(settings, Path(tmp), options, embedder_factory)
            result["index"] = {"dir": str(index_dir), "built_by_bench": built}
        settings = settings.with_(index_dir=index_dir)
        embedder = None

        if "ingest" in options.parts:
            def ingest_part() -> dict[str, Any]:
                nonlocal embedder
                from rag.embedding import load_embedder

                embedder = (embedder_factory or load_embedder)(settings)
                ingest_options = options.ingest_options()
                if embedder_factory is not None:
                    ingest_options.cli_noop_runs = 0  # a CLI process would load the real model instead
                noop_embedder = embedder if embedder_factory is not None else None
                return run_ingest(settings, embedder, index_dir, ingest_options, noop_embedder)

            _part(result, "ingest", ingest_part, options.log)
            embedder = None  # free the model before the other parts load their own
        if "inprocess" in options.parts:
            reference = reference_encoder or (torch_encoder if embedder_factory is None else None)
            _part(
                result, "inprocess",
                lambda: run_inprocess(
                    settings, options.inprocess_options(), embedder_factory, reference_encoder=reference
                ),
                options.log,
            )
        if "http" in options.parts:
            if embedder_factory is not None:
                result["http"] = {"skipped": "a custom embedder cannot be passed to a rag serve process"}
            else:
                _part(
                    result, "http",
                    lambda: run_http(index_dir, load_questions(), options.http_options()), options.log,
                )
        if "scale" in options.parts:
            _part(result, "scale", lambda: run_scale_subprocess(options.scale_options(), options.log), options.log)
        if "postgres" in options.parts and store:
            from eval.bench.postgres import run_postgres

            _part(result, "postgres", lambda: run_postgres(store, options.postgres_options()), options.log)
        if "ingest-scale" in options.parts:
            if embedder_factory is not None:
                result["ingest-scale"] = {"skipped": "a custom embedder cannot be passed to an ingest process"}
            else:
                _part(
                    result, "ingest-scale",
                    lambda: run_ingest_scale(settings, options.ingest_scale_options()), options.log,
                )
        if built:
            shutil.rmtree(index_dir, ignore_errors=True)
    result["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = evaluate_targets(result)
    result["duration_s"] = round(time.perf_counter() - started, 1)
    return result


def _part(result: dict[str, Any], name: str, run: Callable[[], dict[str, Any]], log: Callable[[str], None]) -> None:
    t = time.perf_counter()
    load_before = [round(x, 2) for x in os.getloadavg()]
    try:
        result[name] = run()
        result[name]["part_seconds"] = round(time.perf_counter() - t, 1)
        # Other processes' load moves every figure: keep it next to the figures it may have moved.
        result[name]["load_average"] = {"start": load_before, "end": [round(x, 2) for x in os.getloadavg()]}
    except Exception as exc:  # one broken part must not hide the others' figures
        result["errors"][name] = f"{type(exc).__name__}: {exc}"
        log(f"bench: {name} failed:\n{traceback.format_exc()}")


def _index_for(
    settings: Settings, tmp: Path, options: BenchOptions, embedder_factory: Callable[[Settings], Embedder] | None
) -> tuple[Path, bool]:
    """The index to measure: --index / RAG_INDEX_DIR when it exists, else one built from seeds/ in a
    temporary folder (never the user's default index folder)."""
    if index_exists(settings.index_dir):
        return settings.index_dir, False
    from rag.ingest import ingest

    index_dir = tmp / "index"
    embedder = embedder_factory(settings) if embedder_factory else None
    options.log(f"bench: no index at {settings.index_dir}; building one from {settings.seeds_dir} in {index_dir}")
    ingest([settings.seeds_dir], settings.with_(index_dir=index_dir), embedder=embedder)
    return index_dir, True


def run_scale_subprocess(options: ScaleOptions, log: Callable[[str], None]) -> dict[str, Any]:
    """The scale part in a child process: its gigabytes of synthetic vectors are returned to the
    system when it exits, and OpenMP there waits passively (see `scale_env`)."""
    with tempfile.TemporaryDirectory(prefix="rag-bench-scale-") as tmp:
        out = Path(tmp) / "scale.json"
        spec = {k: v for k, v in asdict(options).items() if k not in {"log", "work_dir"}}
        proc = subprocess.run(
            [sys.executable, "-m", "eval.bench.scale", "run", json.dumps(spec), str(out)],
            env=scale_env(),
            stdout=subprocess.PIPE,
            stderr=None,  # progress lines go straight to our stderr
            text=True,
            check=False,
        )
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"scale child exited with status {proc.returncode}")
        result = json.loads(out.read_text())
    result["omp_wait_policy"] = scale_env().get("OMP_WAIT_POLICY")
    return result


def scale_env() -> dict[str, str]:
    """The environment of the scale child: OMP_WAIT_POLICY=PASSIVE unless the caller set one.

    FAISS parallelises builds and batched searches with OpenMP, whose threads spin while they wait
    by default. On a 2-core machine shared with other processes a spinning thread burns the core the
    thread it waits for needs: measured here, a batched exact search ran 3.4x slower with 2 spinning
    threads than with 1; with passive waiting, 2 threads are never slower than 1.
    """
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env
