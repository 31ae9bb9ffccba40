"""One label renderer: Prometheus' text form, sorted, values escaped, optional labels left out."""

from perflab.store import format_labels


def test_labels_render_as_prometheus_writes_them():
    assert format_labels({"b": "2", "a": "1"}) == '{a="1",b="2"}'
    assert format_labels({}) == ""
    assert format_labels(None) == ""


def test_values_are_escaped_as_in_the_text_format():
    assert format_labels({"path": 'C:\\x "q"\nz'}) == '{path="C:\\\\x \\"q\\"\\nz"}'


def test_labels_can_be_left_out():
    assert format_labels({"pid": "7", "name": "app"}, leave_out=("pid",)) == '{name="app"}'
    assert format_labels({"pid": "7"}, leave_out=("pid",)) == ""
