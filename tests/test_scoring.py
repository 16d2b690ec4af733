from __future__ import annotations

from graphs.bipartite import bipartite_incidence
from graphs.clustering import leiden_clusters
from graphs.projection import co_engagement
from graphs.scoring import scored_cohorts
from tests.conftest import FANS, FARM


def _scored(world, *, with_posts=True, **rules):
    import pyarrow as pa

    interactions, posts = world
    inc = bipartite_incidence(pa.Table.from_pandas(interactions, preserve_index=False))
    co = co_engagement(inc, window_s=3600)
    clusters = leiden_clusters(co.edges, seed=0)
    return scored_cohorts(clusters, co.edges, co.evidence, co.activity,
                          n_actions=co.stats["n_actions"],
                          posts=posts if with_posts else None, **rules)


def test_farm_flagged_fans_not(world):
    scored = _scored(world)
    assert sorted(scored.flagged_accounts["account_id"]) == FARM
    top = scored.cohorts.iloc[0]
    assert top["flagged"] and top["n_authors"] == 6 and top["shared_targets"] == 6
    assert top["density"] == 1.0 and top["median_dt_s"] == 120.0
    fans = scored.cohorts[scored.cohorts["size"] == len(FANS)].iloc[-1]
    assert not fans["flagged"] and fans["top_author_share"] == 1.0
    assert "100% of co-engagements on one author's posts" in fans["explanation"]


def test_without_posts_authors_are_unknown(world):
    scored = _scored(world, with_posts=False)
    assert scored.cohorts["n_authors"].isna().all()
    assert set(FARM) <= set(scored.flagged_accounts["account_id"])


def test_rules_are_parameters(world):
    scored = _scored(world, min_size=7)
    assert scored.flagged_accounts.empty
    assert "fewer than 7 accounts" in scored.cohorts.iloc[0]["explanation"]


def test_memberships_cover_every_clustered_account_once(world):
    scored = _scored(world)
    assert scored.memberships["account_id"].is_unique
    assert set(scored.cohorts["cohort_id"]) == set(scored.memberships["cohort_id"])
    assert scored.cohorts["cohort_id"].tolist() == list(range(len(scored.cohorts)))
