"""Time the clustering step alone on a run's kept edges, scaled up to a given number of accounts.

Usage: python benchmarks/cluster_scale.py RUN_DIR/edges.parquet [--copies K] [--cluster-p P]

Reads the 1 h pass's edges of a finished run (rows of ``edges.parquet`` with ``ties:engage >
0``: what that run's Leiden was given, before the slow pass's edges were spliced in), puts
``K`` disjoint copies of them side by side (ids prefixed ``c<i>.``, so the graph has K times the
accounts and edges with the same degree structure), and times what the run's clustering step
does: :func:`graphs.projection.clustered_edges` (``max_cluster_edge_p``) then
:func:`graphs.clustering.leiden_clusters` (seed 0, resolution 1). Prints accounts, edges,
seconds of each call and the process's peak RSS as one JSON line. The scale issue asks for
Leiden on the kept edges of a 1M-account graph in under a minute. Not a test.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from graphs.clustering import leiden_clusters  # noqa: E402
from graphs.lookup import sorted_codes, text_array  # noqa: E402
from graphs.projection import clustered_edges, id_categories  # noqa: E402

COLUMNS = ["account_a", "account_b", "weight", "p_value"]


def replicated(edges: pa.Table, copies: int) -> pd.DataFrame:
    """``copies`` disjoint copies of ``edges`` (ids prefixed ``c<i>.``), as one frame whose
    ids are categoricals over the sorted ids, as a run's edges are.

    >>> t = pa.table({"account_a": ["a"], "account_b": ["b"], "weight": [1.0], "p_value": [0.1]})
    >>> replicated(t, 2)[["account_a", "account_b"]].values.tolist()
    [['c0.a', 'c0.b'], ['c1.a', 'c1.b']]
    """
    parts = [pa.table({name: (pc.binary_join_element_wise(f"c{k}.", edges[name], "")
                              if name in ("account_a", "account_b") else edges[name])
                       for name in edges.column_names})
             for k in range(copies)]
    frame = pa.concat_tables(parts).to_pandas()
    ends = [text_array(frame[name]) for name in ("account_a", "account_b")]
    ids = sorted_codes(pa.chunked_array(ends[0].chunks + ends[1].chunks))[0]
    accounts = id_categories(ids)
    return frame.astype({"account_a": accounts, "account_b": accounts})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("edges", type=Path)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--cluster-p", type=float, default=0.001)
    args = parser.parse_args()
    table = pq.read_table(args.edges, columns=[*COLUMNS, "ties:engage"])
    table = table.filter(pc.greater(table["ties:engage"], 0)).select(COLUMNS)
    edges = replicated(table.cast(pa.schema([pa.field("account_a", pa.string()),
                                              pa.field("account_b", pa.string()),
                                              pa.field("weight", pa.float64()),
                                              pa.field("p_value", pa.float64())])),
                       args.copies)
    started = time.perf_counter()
    kept = clustered_edges(edges, max_edge_p=args.cluster_p)
    selected = time.perf_counter()
    clusters = leiden_clusters(kept, seed=0, resolution=1.0)
    done = time.perf_counter()
    print(json.dumps({
        "copies": args.copies, "edges": len(edges), "edges_clustered": len(kept),
        "accounts_clustered": len(clusters), "clusters": int(clusters["cluster"].nunique()),
        "clustered_edges_s": round(selected - started, 2),
        "leiden_clusters_s": round(done - selected, 2),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}))


if __name__ == "__main__":
    main()
