from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtsed.io.events import (
    Event,
    EventListError,
    merge_overlaps,
    read_event_list,
    write_event_list,
)


def test_write_then_read_round_trips(tmp_path: Path):
    events = [Event(1.5, 2.25, "dog"), Event(0.0, 0.5, "cat"), Event(1.0, 3.0, "cat")]
    write_event_list(tmp_path / "a.txt", events)
    assert read_event_list(tmp_path / "a.txt", labels={"dog", "cat"}) == sorted(events)
    assert (tmp_path / "a.txt").read_text().splitlines()[0] == "0.000000\t0.500000\tcat"


def test_file_column_variants(tmp_path: Path):
    path = tmp_path / "multi.txt"
    path.write_text("a.wav\t0.5\t1.0\tdog\nb.wav\thome\t1\t2\tcat\nc.wav\n\n# comment\n")
    events = read_event_list(path)
    assert events == [Event(0.5, 1.0, "dog", "a.wav"), Event(1.0, 2.0, "cat", "b.wav")]


@pytest.mark.parametrize(
    "line, event",
    [
        ("0.5 1.0 dog", Event(0.5, 1.0, "dog")),  # space-separated
        ("224.691453\t224.691453\tcar", Event(224.691453, 224.691453, "car")),  # zero length, kept as sed_eval keeps it
    ],
)
def test_one_line_lists_read_as_sed_eval_reads_them(tmp_path: Path, line: str, event: Event):
    path = tmp_path / "one.txt"
    path.write_text(line + "\n")
    assert read_event_list(path) == [event]


def test_every_bad_line_is_reported_with_its_number(tmp_path: Path):
    path = tmp_path / "bad.txt"
    path.write_text(
        "0.0\t1.0\tdog\n"  # 1 fine
        "2.0\t1.0\tdog\n"  # 2 offset before onset
        "-1\t1.0\tdog\n"  # 3 negative
        "0.5\t1.0\tunicorn\n"  # 4 unknown label
        "0.5\t1.0\tdog\textra\tcols\tmore\n"  # 5 too many columns
        "abc\t1.0\tdog\n"  # 6 not a number
        "0.5\tnan\tdog\n"  # 7 NaN
    )
    with pytest.raises(EventListError) as info:
        read_event_list(path, labels={"dog"})
    numbers = [n for n, _ in info.value.problems]
    assert numbers == [2, 3, 4, 5, 6, 7]
    text = str(info.value)
    assert f"{path}:4: unknown label 'unicorn'" in text
    assert f"{path}:2: offset 1.0 is before onset 2.0" in text


def test_desed_header_lines_are_skipped(tmp_path: Path):
    with_file = tmp_path / "desed.tsv"
    with_file.write_text("filename\tonset\toffset\tevent_label\na.wav\t0.5\t1.0\tDog\n")
    without_file = tmp_path / "plain.tsv"
    without_file.write_text("onset\toffset\tevent_label\n0.5\t1.0\tDog\n")
    assert read_event_list(with_file) == [Event(0.5, 1.0, "Dog", "a.wav")]
    assert read_event_list(without_file) == [Event(0.5, 1.0, "Dog")]


def test_a_header_is_only_a_header_on_the_first_line(tmp_path: Path):
    path = tmp_path / "late.tsv"
    path.write_text("0.5\t1.0\tDog\nonset\toffset\tevent_label\n")
    with pytest.raises(EventListError, match=r"late.tsv:2: onset/offset must be finite numbers"):
        read_event_list(path)


def test_weakly_labelled_lines_are_refused_as_such(tmp_path: Path):
    path = tmp_path / "weak.tsv"
    path.write_text("filename\tonset\toffset\tevent_label\na.wav\t\t\tSpeech\nb.wav\t\t\t\n")
    with pytest.raises(EventListError) as info:
        read_event_list(path)
    assert [n for n, _ in info.value.problems] == [2]  # b.wav: a file with no events
    assert "no onset/offset for 'Speech': a weakly labelled line" in str(info.value)


def test_missing_file_is_named(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_event_list(tmp_path / "nope.txt")


def test_merge_overlaps_unions_one_class_only():
    merged = merge_overlaps([Event(0, 2, "a"), Event(1, 3, "a"), Event(3, 4, "a"), Event(5, 6, "a"), Event(1, 2, "b")])
    assert merged == [Event(0, 4, "a"), Event(1, 2, "b"), Event(5, 6, "a")]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    content=st.one_of(
        st.binary(max_size=300),
        st.lists(
            st.lists(
                st.sampled_from(
                    ["0.5", "1", "-1", "nan", "inf", "x", "", " ", "beep", "a.wav", "1e400", "\u00e9", "\x00"]
                ),
                max_size=6,
            ).map("\t".join),
            max_size=8,
        ).map(lambda rows: "\n".join(rows).encode()),
    )
)
def test_any_bytes_give_events_or_an_error_naming_file_and_line(tmp_path: Path, content: bytes):
    path = tmp_path / "fuzz.txt"
    path.write_bytes(content)
    try:
        events = read_event_list(path)
    except EventListError as error:
        assert error.problems and all(f"{path}:{number}:" in str(error) for number, _ in error.problems)
        return
    assert all(0 <= e.onset <= e.offset and e.label for e in events)
