"""lib.audit.usage: aggregates over a snapshot agree with counts made by hand on a small bucket
with folders, versions, delete markers, storage classes and ages."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from lib.audit.usage import (
    SnapshotPoint,
    Totals,
    by_age,
    by_extension,
    by_family,
    by_prefix,
    by_storage_class,
    growth,
    growth_from_snapshots,
    hidden_by_prefix,
    largest,
    totals,
)
from tests.unit.snapshots import NOW, row, snapshot

pytestmark = pytest.mark.unit

ROWS = [
    row("photos/2026/a.jpg", 1000, days=1, version_id="a2"),
    row("photos/2026/a.jpg", 900, days=3, version_id="a1", is_latest=False),
    row("photos/2026/b.png", 2000, days=10),
    row("photos/2025/c.JPG", 3000, days=100, storage_class="STANDARD_IA"),
    row("photos/gone.png", None, days=2, version_id="g2", is_delete_marker=True, e_tag=None),
    row("photos/gone.png", 700, days=20, version_id="g1", is_latest=False),
    row("docs/report.pdf", 500, days=40, version_id="r2"),
    row("docs/report.pdf", 400, days=60, version_id="r1", is_latest=False),
    row("docs/old/notes.txt", 50, days=400, storage_class="GLACIER"),
    row("readme", 10, days=5, storage_class=None),
]


@pytest.fixture
def con(tmp_path):
    return snapshot(tmp_path / "snap", ROWS, files=3)


def records(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(None if pd.isna(v) else v for v in r) for r in frame.itertuples(index=False)]


def test_totals_count_current_objects_every_version_and_delete_markers(con):
    assert totals(con) == Totals(
        objects=6,
        bytes=6560,
        versions=9,
        version_bytes=8560,
        noncurrent=3,
        noncurrent_bytes=2000,
        delete_markers=1,
    )


def test_an_unversioned_snapshot_without_is_latest_counts_every_row_as_current(tmp_path):
    con = snapshot(tmp_path / "plain", [row("a", 5, is_latest=None), row("b/c", 7, is_latest=None)])
    counted = totals(con)
    assert (counted.objects, counted.bytes, counted.noncurrent, counted.delete_markers) == (2, 12, 0, 0)


def test_top_level_folders_biggest_first_with_the_loose_files_as_none(con):
    assert records(by_prefix(con)) == [("photos/", 3, 6000), ("docs/", 2, 550), (None, 1, 10)]


def test_drilling_down_one_folder_lists_its_subfolders(con):
    # Equal bytes: the folder with more objects first.
    assert records(by_prefix(con, "photos/")) == [("photos/2026/", 2, 3000), ("photos/2025/", 1, 3000)]
    assert records(by_prefix(con, "docs/")) == [(None, 1, 500), ("docs/old/", 1, 50)]


def test_folders_are_bounded_by_top(con):
    assert len(by_prefix(con, top=1)) == 1


def test_extensions_are_lower_cased_and_grouped_into_families(con):
    assert records(by_extension(con)) == [
        ("jpg", "image", 2, 4000),
        ("png", "image", 1, 2000),
        ("pdf", "pdf", 1, 500),
        ("txt", "text", 1, 50),
        ("(none)", "other", 1, 10),
    ]
    assert records(by_family(con)) == [("image", 3, 6000), ("pdf", 1, 500), ("text", 1, 50), ("other", 1, 10)]


def test_storage_classes_count_a_missing_class_as_standard(con):
    assert records(by_storage_class(con)) == [("STANDARD", 4, 3510), ("STANDARD_IA", 1, 3000), ("GLACIER", 1, 50)]


def test_ages_fall_into_four_bands_in_order(con):
    assert records(by_age(con, NOW)) == [
        ("< 30 days", 3, 3010),
        ("30–90 days", 1, 500),
        ("90 days – 1 year", 1, 3000),
        ("> 1 year", 1, 50),
    ]


def test_age_depends_on_now_and_a_band_boundary_belongs_to_the_older_band(tmp_path):
    con = snapshot(tmp_path / "edge", [row("thirty", 1, days=30), row("young", 2, days=29)])
    assert records(by_age(con, NOW))[:2] == [("< 30 days", 1, 2), ("30–90 days", 1, 1)]
    later = records(by_age(con, NOW + timedelta(days=400)))
    assert later[-1] == ("> 1 year", 2, 3)


def test_largest_objects_are_current_ones_biggest_first(con):
    frame = largest(con, top=2)
    assert list(frame["key"]) == ["photos/2025/c.JPG", "photos/2026/b.png"]
    assert list(frame["size"]) == [3000, 2000]


def test_hidden_storage_by_folder_counts_noncurrent_versions_and_delete_markers(con):
    assert records(hidden_by_prefix(con)) == [("photos/", 2, 1600, 1), ("docs/", 1, 400, 0)]
    assert records(hidden_by_prefix(con, "photos/")) == [("photos/2026/", 1, 900, 0), (None, 1, 700, 1)]


def test_growth_orders_snapshots_and_reports_what_each_added():
    t0 = NOW - timedelta(days=14)
    points = [
        SnapshotPoint(NOW, 130, 9000),
        SnapshotPoint(t0, 100, 5000),
        SnapshotPoint(t0 + timedelta(days=7), 120, 8000),
    ]
    frame = growth(points)
    assert list(frame["objects"]) == [100, 120, 130]
    assert records(frame[["objects_added", "bytes_added"]]) == [(None, None), (20, 3000), (10, 1000)]


def test_growth_from_snapshot_connections_uses_current_objects(tmp_path, con):
    earlier = snapshot(tmp_path / "earlier", [row("docs/report.pdf", 500)])
    frame = growth_from_snapshots([(NOW, con), (NOW - timedelta(days=7), earlier)])
    assert records(frame[["objects", "bytes", "objects_added", "bytes_added"]]) == [
        (1, 500, None, None),
        (6, 6560, 5, 6060),
    ]
