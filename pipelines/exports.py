"""Gephi-ready graph files (GEXF, GraphML) of the flagged cohorts.

XML 1.0 cannot hold control characters at all, not even as character references, so
account ids are written through :func:`xml_safe_id`: a backslash becomes ``\\\\`` and
each control character (Unicode category ``Cc``, plus surrogates and U+FFFE/U+FFFF)
becomes ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``. Every other character, including XML
specials such as ``<`` and ``&``, is written as is (the XML writer escapes it).
:func:`original_id` reverses the mapping.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from graphs.degrees import account_degrees
from graphs.grouped_rows import grouped_rows, pairs_in_order, sort_runs
from graphs.lookup import (
    category_codes,
    lookup_codes,
    narrow_dtype,
    pair_group_blocks,
    pair_lookups,
    sorted_codes,
    text_array,
)
from pipelines.mapped_columns import dropped_pages, taken_rows
from pipelines.outputs import atomic_file, write_csv, write_parquet
from pipelines.report import run_tasks
from pipelines.report_tables import paged_cohorts

logger = logging.getLogger(__name__)

_ESCAPED = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
"""A backslash, or a character XML 1.0 cannot hold: category Cc (U+0000–001F, U+007F–009F),
surrogates, U+FFFE, U+FFFF."""


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch == "\\":
        return "\\\\"
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def xml_safe_id(account_id: str) -> str:
    r"""Reversible, XML-1.0-safe spelling of an id.

    Examples
    --------
    >>> xml_safe_id("a\x00b\\c<d>")
    'a\\x00b\\\\c<d>'
    >>> original_id(xml_safe_id("tab\there\u2028"))
    'tab\there\u2028'
    """
    return _UNSAFE.sub(_escape, account_id)


def original_id(safe_id: str) -> str:
    """Inverse of :func:`xml_safe_id`."""

    def unescape(match: re.Match[str]) -> str:
        body = match.group(1)
        return "\\" if body == "\\" else chr(int(body[1:], 16))

    return _ESCAPED.sub(unescape, safe_id)


GRAPH_EDGE_COLUMNS = ["account_a", "account_b", "weight", "shared_targets", "median_dt_s"]
"""The edge columns :func:`flagged_graph` reads."""


def flagged_graph(
    *, memberships: pd.DataFrame, edges: pd.DataFrame, cohorts: pd.DataFrame
) -> nx.Graph:
    """Undirected graph of flagged cohorts' accounts and the edges among them.

    Nodes (XML-safe ids) carry ``cohort_id`` and ``cohort_score``; edges carry
    ``weight``, ``shared_targets`` and ``median_dt_s``. Edges between two different
    flagged cohorts are kept. Nodes and edges are added in sorted order.
    """
    flagged = cohorts.loc[cohorts["flagged"].astype(bool), ["cohort_id", "score"]]
    nodes = memberships.merge(flagged, on="cohort_id").sort_values("account_id")
    safe = {acc: xml_safe_id(str(acc)) for acc in nodes["account_id"].tolist()}  # once per id
    graph = nx.Graph()
    graph.add_nodes_from(
        (safe[acc], {"cohort_id": int(cid), "cohort_score": float(score)})
        for acc, cid, score in zip(nodes["account_id"].tolist(), nodes["cohort_id"].tolist(),
                                   nodes["score"].tolist(), strict=True)
    )
    among = (edges["account_a"].isin(safe.keys()) & edges["account_b"].isin(safe.keys()))
    # only the columns drawn, their rows a range at a time: a run's edges are read from
    # files, and a boolean take of every column reads their pages wherever the rows are (at
    # 100M rows building these tasks took the parent from 2.7 to 6.8 GiB)
    inside = taken_rows(edges[GRAPH_EDGE_COLUMNS], np.flatnonzero(among.to_numpy()))
    dropped_pages()
    inside = inside.sort_values(["account_a", "account_b"])
    graph.add_edges_from(
        (safe[a], safe[b],
         {"weight": float(w), "shared_targets": int(n), "median_dt_s": float(dt)})
        for a, b, w, n, dt in zip(
            *(inside[c].tolist() for c in ("account_a", "account_b", "weight", "shared_targets",
                                           "median_dt_s")), strict=True)
    )
    return graph


def write_gexf(
    path: Path, *, memberships: pd.DataFrame, edges: pd.DataFrame, cohorts: pd.DataFrame
) -> Path:
    """Write the flagged cohorts' graph as GEXF 1.2 (for Gephi), atomically.

    Parameters
    ----------
    path : Path
        Destination file.
    memberships, edges, cohorts : DataFrame
        The ``memberships``, ``co_engagement_edges`` and ``cohorts`` tables.

    Returns
    -------
    Path
        ``path``.
    """
    graph = flagged_graph(memberships=memberships, edges=edges, cohorts=cohorts)
    return _write_atomic(Path(path), nx.write_gexf, graph)


def write_graphml(
    path: Path, *, memberships: pd.DataFrame, edges: pd.DataFrame, cohorts: pd.DataFrame
) -> Path:
    """Write the flagged cohorts' graph as GraphML, atomically (same content as GEXF).

    Parameters
    ----------
    path : Path
        Destination file.
    memberships, edges, cohorts : DataFrame
        The ``memberships``, ``co_engagement_edges`` and ``cohorts`` tables.

    Returns
    -------
    Path
        ``path``.
    """
    graph = flagged_graph(memberships=memberships, edges=edges, cohorts=cohorts)
    return _write_atomic(Path(path), nx.write_graphml, graph)


def write_graphs(out_dir: Path, *, memberships: pd.DataFrame, edges: pd.DataFrame,
                 cohorts: pd.DataFrame, max_cohorts: int = 0) -> list[Path]:
    """Write ``graph.gexf`` and ``graph.graphml`` of the flagged cohorts, building the graph once.

    With ``max_cohorts`` above 0, only the cohorts that get a report page (the
    ``max_cohorts`` highest ranked, :func:`pipelines.report_tables.paged_cohorts`): at 10M
    rows the 562 flagged cohorts' graph (54k accounts) took 126 s to write and 860 MB.

    The two files are written by two processes (:func:`pipelines.report.run_tasks`):
    networkx's XML writers are most of the time (200k edges at 1M rows: 12 s of CPU).

    Returns
    -------
    list of Path
        The two files, as :func:`write_gexf` and :func:`write_graphml` write them.
    """
    return run_tasks(graph_tasks(out_dir, memberships=memberships, edges=edges, cohorts=cohorts,
                                 max_cohorts=max_cohorts), workers=min(os.cpu_count() or 1, 2))


def graph_tasks(out_dir: Path, *, memberships: pd.DataFrame, edges: pd.DataFrame,
                cohorts: pd.DataFrame, max_cohorts: int = 0) -> list[Callable[[], Path]]:
    """:func:`write_graphs` as two tasks for :func:`pipelines.report.run_tasks` (the graph is
    built here, once); ``write_graphs`` is ``run_tasks(graph_tasks(...))``."""
    if max_cohorts > 0:
        paged = cohorts["cohort_id"].isin(paged_cohorts(cohorts, max_cohorts))
        cohorts = cohorts.assign(flagged=cohorts["flagged"].astype(bool) & paged)
    graph = flagged_graph(memberships=memberships, edges=edges, cohorts=cohorts)
    return [partial(_write_atomic, Path(out_dir) / name, write, graph)
            for name, write in (("graph.gexf", nx.write_gexf), ("graph.graphml", nx.write_graphml))]


def _write_atomic(path: Path, write: Callable[[nx.Graph, object], None], graph: nx.Graph
                  ) -> Path:
    with atomic_file(path) as fh:
        write(graph, fh)
    logger.info(
        "wrote %s (%d accounts, %d edges)", path, graph.number_of_nodes(), graph.number_of_edges()
    )
    return path


def accounts_table(memberships: pd.DataFrame, edges: pd.DataFrame, cohorts: pd.DataFrame,
                   n_actions: pd.Series | None = None) -> pd.DataFrame:
    """Per clustered account: its cohort, whether flagged, degree and weighted degree.

    ``degree`` and ``weighted_degree`` count every kept edge of the account (inside and
    outside its cohort), by counting (:func:`graphs.degrees.account_degrees`: compensated
    sums in the order of a pandas grouping of the edges' stacked ends, without stacking
    them). ``n_actions`` (the
    account's projected actions, aligned with ``memberships``' index) adds a column of that
    name. Sorted by cohort, then account.
    """
    out = memberships[["account_id", "cohort_id"]].copy()
    keys, at = text_array(out["account_id"]), np.arange(len(out), dtype=np.int32)
    degree, weighted = account_degrees(
        *(lookup_codes(edges[end], keys, at, dtype=np.int32) for end in ("account_a",
                                                                         "account_b")),
        edges["weight"].to_numpy(dtype=float), len(out))
    flagged = cohorts.set_index("cohort_id")["flagged"].astype(bool)
    out["flagged"] = out["cohort_id"].map(flagged).fillna(False).astype(bool)
    out["degree"], out["weighted_degree"] = degree, weighted
    if n_actions is not None:
        out["n_actions"] = n_actions.reindex(out.index).fillna(0).astype("int64")
    return out.sort_values(["cohort_id", "account_id"], kind="mergesort", ignore_index=True)


def flagged_evidence(memberships: pd.DataFrame, evidence: pd.DataFrame,
                     cohorts: pd.DataFrame) -> pd.DataFrame:
    """``edge_evidence`` rows of ties inside flagged cohorts, with ``cohort_id`` first.

    Sorted by (cohort_id, account_a, account_b, target_id), stably (ties keep the evidence's
    order): the rows of :func:`flagged_evidence_rows`, taken.
    """
    rows, cohort = flagged_evidence_rows(memberships, evidence, cohorts)
    out = evidence.take(rows).reset_index(drop=True)
    out.insert(0, "cohort_id", cohort.astype("int64"))
    return out


def flagged_evidence_rows(memberships: pd.DataFrame, evidence: pd.DataFrame,
                          cohorts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the ``edge_evidence`` rows of ties inside flagged cohorts, in
    :func:`flagged_evidence`'s order, and each one's cohort id (int32 while the ids fit).

    The rows are found a block at a time and grouped by cohort by counting
    (:func:`graphs.grouped_rows.grouped_rows`), then ordered on integer codes (text ranked
    in code point order, as pandas sorts it). A projection's evidence (ids as categoricals
    over its sorted ids) comes in (account_a, account_b) order: only its pairs' runs are
    then sorted by target. At 30M rows (22M of 31M evidence rows out) +0.20 GiB, where the
    four-key sort of every such row took +0.86 GiB; other evidence is still sorted so.

    >>> m = pd.DataFrame({"account_id": ["a", "b", "c"], "cohort_id": [5, 5, 6]})
    >>> ev = pd.DataFrame({"account_a": ["b", "a", "a"], "account_b": ["a", "b", "c"],
    ...                    "target_id": ["t", "t", "t"]})
    >>> c = pd.DataFrame({"cohort_id": [5, 6], "flagged": [True, True]})
    >>> [x.tolist() for x in flagged_evidence_rows(m, ev, c)]
    [[1, 0], [5, 5]]
    """
    in_pairs = _pair_ordered_codes(evidence)  # first: nothing else held yet
    flagged = np.unique(cohorts.loc[cohorts["flagged"].astype(bool), "cohort_id"].to_numpy(
        dtype="int64"))
    members = memberships[memberships["cohort_id"].isin(flagged)]
    keys = text_array(members["account_id"])
    group = np.searchsorted(flagged, members["cohort_id"].to_numpy(dtype="int64"))
    looked_up = pair_lookups(evidence, keys, group.astype(np.int32))  # once, for both passes
    sizes = np.zeros(len(flagged), np.int64)
    for _, inside in pair_group_blocks(looked_up, len(evidence), block=EVIDENCE_BLOCK):
        sizes += np.bincount(inside, minlength=len(flagged))
    rows = grouped_rows(pair_group_blocks(looked_up, len(evidence), block=EVIDENCE_BLOCK), sizes)
    cohort = np.repeat(flagged.astype(narrow_dtype(flagged)), sizes)  # sorted: the grouping
    if in_pairs is not None:
        sort_runs(rows, *in_pairs)
        return rows, cohort
    ranks = [_text_ranks(evidence[name], rows) for name in ("target_id", "account_b",
                                                            "account_a")]
    return rows[np.lexsort((*ranks, cohort))], cohort  # the cohorts stay in their order


EVIDENCE_BLOCK = 1 << 22
"""Evidence rows looked up at a time by :func:`flagged_evidence_rows`."""


def _pair_ordered_codes(evidence: pd.DataFrame) -> tuple[np.ndarray, ...] | None:
    """The codes of ``account_a``, ``account_b`` and ``target_id`` when each ranks as its
    text does (:func:`graphs.lookup.category_codes`) and the rows come in (account_a,
    account_b) order; else ``None``. :func:`graphs.lookup.category_codes` spells a column's
    categories as Arrow text to check their order: one column's at a time."""
    codes = []
    for name in ("account_a", "account_b", "target_id"):
        found = category_codes(evidence[name])
        if found is None:
            return None
        codes.append(found[1])
        del found
    return tuple(codes) if pairs_in_order(codes[0], codes[1]) else None


def _text_ranks(column: pd.Series, rows: np.ndarray) -> np.ndarray:
    """Codes of ``column``'s ``rows`` that order them as their text does: a projection's
    categorical codes as they are (:func:`graphs.lookup.category_codes`), else their ranks
    (:func:`graphs.lookup.sorted_codes`)."""
    found = category_codes(column)
    return found[1][rows] if found is not None else sorted_codes(column.take(rows))[1]


def _write_flagged_evidence(memberships: pd.DataFrame, evidence: pd.DataFrame,
                            cohorts: pd.DataFrame, path: Path) -> Path:
    """``evidence.csv``: :func:`flagged_evidence` written, its rows taken a slice at a time
    (:func:`pipelines.outputs.write_csv`)."""
    rows, cohort = flagged_evidence_rows(memberships, evidence, cohorts)
    return write_csv(evidence, path, rows=rows, first=("cohort_id", cohort))


def write_tables(out_dir: Path, *, cohorts: pd.DataFrame, memberships: pd.DataFrame,
                 edges: pd.DataFrame, evidence: pd.DataFrame,
                 n_actions: pd.Series | None = None) -> list[Path]:
    """Write ``cohorts.parquet``, ``accounts.csv`` and ``evidence.csv`` (formula-safe CSVs).

    Parameters
    ----------
    out_dir : Path
        The run's output directory.
    cohorts, memberships, edges, evidence : DataFrame
        The ``cohorts``, ``memberships``, ``co_engagement_edges`` and ``edge_evidence``
        tables (pseudonymised when the run is).
    n_actions : Series, optional
        Actions per account, aligned with ``memberships``' index (see :func:`accounts_table`).

    Returns
    -------
    list of Path
        The three files, in the order above.
    """
    return [task() for task in table_tasks(out_dir, cohorts=cohorts, memberships=memberships,
                                           edges=edges, evidence=evidence, n_actions=n_actions)]


def table_tasks(out_dir: Path, *, cohorts: pd.DataFrame, memberships: pd.DataFrame,
                edges: pd.DataFrame, evidence: pd.DataFrame,
                n_actions: pd.Series | None = None) -> list[Callable[[], Path]]:
    """:func:`write_tables`' three files as tasks (each builds its table and writes it), in
    the same order, for :func:`pipelines.report.run_tasks`."""
    out_dir = Path(out_dir)
    return [
        lambda: write_parquet(cohorts, out_dir / "cohorts.parquet"),
        lambda: write_csv(accounts_table(memberships, edges, cohorts, n_actions),
                          out_dir / "accounts.csv"),
        lambda: _write_flagged_evidence(memberships, evidence, cohorts,
                                        out_dir / "evidence.csv"),
    ]
