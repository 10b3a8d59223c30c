"""benchmarks/results.py: blocks are replaced in place, appended under their title, and withdrawn whole."""

import pytest

from benchmarks.results import drop_block, record_block


def test_record_replaces_in_place_and_drop_removes_the_block_and_its_heading(tmp_path):
    results = tmp_path / "RESULTS.md"
    record_block("a", "First", "one", results)
    record_block("b", "Second", "two", results)
    record_block("a", "First", "one again", results)
    assert results.read_text() == (
        "# Measured results\n\n## First\n\n<!-- a:start -->\none again\n<!-- a:end -->\n\n"
        "## Second\n\n<!-- b:start -->\ntwo\n<!-- b:end -->\n"
    )
    drop_block("a", results)
    assert results.read_text() == "# Measured results\n\n## Second\n\n<!-- b:start -->\ntwo\n<!-- b:end -->\n"


def test_drop_of_an_unknown_block_names_it(tmp_path):
    results = tmp_path / "RESULTS.md"
    record_block("a", "First", "one", results)
    with pytest.raises(SystemExit, match="missing"):
        drop_block("missing", results)
    assert "<!-- a:start -->" in results.read_text()
