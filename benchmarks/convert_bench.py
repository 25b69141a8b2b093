"""Wall time, output size and peak RSS of ``sras data convert`` on the full BioImLab set, at several rotation counts.

Peak RSS must not grow with the amount written: records are streamed to their shard, never held. Each
conversion runs as its own ``sras`` process, so its peak RSS is its own (``os.wait4``). Usage:

    python benchmarks/convert_bench.py --data ../shared/data/bioimlab [--rotations 6 24] [--size 224]

Writes ``runs/bench/convert/<stamp>-s0/{config,env,results}.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sras_keras.configs.records import Environment, write_record
from sras_keras.core.provenance import environment, new_run_dir
from sras_keras.data.pipeline import load_manifest


def convert_once(data: Path, out: Path, rotations: int, size: int, seed: int) -> dict:
    command = [
        str(Path(sys.executable).with_name("sras")),
        "data",
        "convert",
        str(data),
        str(out),
        "--split",
        "paper",
        "--rotations",
        str(rotations),
        "--image-size",
        str(size),
        "--seed",
        str(seed),
    ]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"conversion failed: {process.stderr.read().decode()[-2000:]}")
    manifest = load_manifest(out)
    records = sum(manifest.counts["records"].values())
    return {
        "rotations": rotations,
        "records": records,
        "seconds": round(seconds, 1),
        "records_per_s": round(records / seconds, 1),
        "output_mb": round(sum(s.bytes for s in manifest.shards) / 1e6, 1),
        "shards": len(manifest.shards),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "data_checksum": manifest.source.checksum,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--rotations", type=int, nargs="+", default=[6, 24])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs"))
    args = parser.parse_args()

    results = []
    for rotations in args.rotations:
        scratch = Path(tempfile.mkdtemp(prefix="sras-convert-bench-"))
        try:
            results.append(convert_once(args.data, scratch / "out", rotations, args.size, args.seed))
        finally:
            shutil.rmtree(scratch)
        print(json.dumps(results[-1]), flush=True)
    run = new_run_dir(args.out, "bench/convert", args.seed)
    (run / "config.json").write_text(json.dumps(vars(args), default=str, indent=2))
    write_record(run, Environment.from_dict(environment(seed=args.seed, data_checksum=results[0]["data_checksum"])))
    (run / "results.json").write_text(json.dumps(results, indent=2))
    print(f"{'rotations':>9}{'records':>9}{'seconds':>9}{'rec/s':>8}{'MB':>8}{'peak RSS MB':>13}")
    for r in results:
        print(
            f"{r['rotations']:>9}{r['records']:>9}{r['seconds']:>9}{r['records_per_s']:>8}{r['output_mb']:>8}{r['peak_rss_mb']:>13}"
        )
    print(run)


if __name__ == "__main__":
    main()
