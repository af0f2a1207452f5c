"""The series catalogue: what exists for which kind of point, and what the pages read."""

from models.series import CONSUMER_KINDS, SERIES, SERIES_OF, series_for


def test_series_by_point_kind():
    assert [s.name for s in series_for("consumption")] == ["daily_consumption", "max_power", "load_curve"]
    assert [s.name for s in series_for("unknown", load_curve_enabled=False)] == ["daily_consumption", "max_power"]
    assert [s.name for s in series_for("production")] == ["daily_production", "production_load_curve"]


def test_what_the_pages_read_is_in_the_catalogue_and_of_the_right_kind():
    for kind, roles in SERIES_OF.items():
        for role, name in roles.items():
            if name is not None:
                assert SERIES[name].kind == kind and SERIES[name].load_curve == (role == "curve")
    assert set(CONSUMER_KINDS) == {"consumption", "unknown"}


def test_windows_and_history_depth():
    assert {s.name: (s.window_days, s.history_months) for s in SERIES.values() if s.load_curve} == {
        "load_curve": (7, 24), "production_load_curve": (7, 24)}
    assert all((s.window_days, s.history_months) == (365, 36) for s in SERIES.values() if not s.load_curve)
