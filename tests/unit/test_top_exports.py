"""The public surface of perflab.top, pinned: changing it is a decision, not an accident."""

import perflab.top


def test_exported_members():
    assert sorted(perflab.top.__all__) == [
        "SCHEMA", "SORT_KEYS", "Sample", "Sampler", "ScreenState", "SortKey", "TopView",
        "UiState", "ViewOptions", "build_view", "handle_key", "matches", "render",
        "render_lines", "render_text", "run_live", "split_keys", "view_to_json",
    ]
    for name in perflab.top.__all__:
        assert getattr(perflab.top, name) is not None
