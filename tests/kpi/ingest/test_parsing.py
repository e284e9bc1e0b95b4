"""Source text to canonical values, set-wise in DuckDB: dates without guessing, durations,
booleans, integers, scores and category words."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from kpi.errors import ImportProblem
from kpi.ingest.parsing import (
    DateDetection,
    Params,
    boolean_sql,
    category_sql,
    check_date_shapes,
    contains_sql,
    date_shapes,
    detect_dates,
    duration_sql,
    explicit_dates,
    integer_sql,
    name_text,
    score_sql,
    text_value,
)


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    yield connection
    connection.close()


def load(con, values: list[str | None]) -> str:
    con.execute("CREATE OR REPLACE TEMP TABLE t (i INTEGER, v VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
    return "t"


def evaluate(con, values: list[str | None], build) -> list:
    load(con, values)
    p = Params()
    expression = build("v", p)
    return [
        r[0] for r in con.execute(f"SELECT {expression} FROM t ORDER BY i", p.values).fetchall()
    ]


def detect(con, values: list[str | None]):
    load(con, values)
    return detect_dates(con, "t", "v", DateDetection("Created", "opened_at"), "export.csv")


def read_dates(con, values, parse, timezone="Europe/London") -> list:
    return evaluate(con, values, lambda v, p: parse.sql(v, timezone, p))


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "label", "expected"),
    [
        (["2025-03-03 09:15:00", "2025-07-01T12:00"], "ISO 8601",
         [dt.datetime(2025, 3, 3, 9, 15), dt.datetime(2025, 7, 1, 11, 0)]),
        (["25/03/2025 10:00", "01/04/2025 10:00"], "day-first",
         [dt.datetime(2025, 3, 25, 10, 0), dt.datetime(2025, 4, 1, 9, 0)]),
        (["03/25/2025 10:00", "04/01/2025 10:00"], "month-first",
         [dt.datetime(2025, 3, 25, 10, 0), dt.datetime(2025, 4, 1, 9, 0)]),
        (["25/03/25", "13/01/24"], "day-first",
         [dt.datetime(2025, 3, 25), dt.datetime(2024, 1, 13)]),
        (["14 Mar 2025 10:40", "2025-03-20"], "day-first",
         [dt.datetime(2025, 3, 14, 10, 40), dt.datetime(2025, 3, 20)]),
        (["1741000000", "1741003600"], "Unix time",
         [dt.datetime(2025, 3, 3, 11, 6, 40), dt.datetime(2025, 3, 3, 12, 6, 40)]),
    ],
    ids=["iso", "uk", "us", "two-digit-year", "named-month", "epoch"],
)  # fmt: skip
def test_a_date_family_is_detected_only_when_it_reads_every_value(con, values, label, expected):
    parse = detect(con, [*values, None])
    assert parse.label == label
    assert read_dates(con, [*values, None], parse) == [*expected, None]


def test_iso_values_with_a_zone_keep_their_instant(con):
    parse = detect(con, ["2025-07-01T12:00:00Z", "2025-07-01T12:00:00+02:00"])
    assert read_dates(con, ["2025-07-01T12:00:00Z", "2025-07-01T12:00:00+02:00"], parse) == [
        dt.datetime(2025, 7, 1, 12),
        dt.datetime(2025, 7, 1, 10),
    ]


def test_dates_that_read_both_day_and_month_first_stop_with_the_column_and_examples(con):
    with pytest.raises(ImportProblem) as caught:
        detect(con, ["03/04/2025", "05/06/2025", "12/11/2025"])
    message = str(caught.value)
    assert message.startswith("export.csv: column 'Created' (opened_at)")
    assert "day-first and month-first" in message
    assert "'03/04/2025'" in message
    assert 'date_format = "%d/%m/%Y' in message
    assert "\n" not in message


def test_dates_no_single_format_reads_stop_with_the_values_not_read(con):
    with pytest.raises(ImportProblem) as caught:
        detect(con, ["25/03/2025", "03/26/2025"])
    message = str(caught.value)
    assert "column 'Created' (opened_at): no single date format reads every value" in message
    assert "'03/26/2025'" in message
    assert "date_format" in message


def test_a_value_that_is_no_date_at_all_is_named_alone(con):
    with pytest.raises(ImportProblem) as caught:
        detect(con, ["25/03/2025", "03/26/2025", "yesterday"])
    message = str(caught.value)
    assert "column 'Created' (opened_at): cannot read 'yesterday' as a date" in message
    assert "'25/03/2025'" not in message.split("; ")[0]
    assert "date_format" in message


def test_an_empty_date_column_is_not_an_error(con):
    assert detect(con, [None, None]).label == "ISO 8601"


def test_an_explicit_format_reads_its_values_and_iso_and_rejects_impossible_dates(con):
    parse = explicit_dates("%d/%m/%Y %H:%M")
    assert read_dates(
        con, ["31/01/2025 09:00", "31/02/2025 09:00", "2025-06-01 09:00", "rubbish"], parse
    ) == [dt.datetime(2025, 1, 31, 9), None, dt.datetime(2025, 6, 1, 8), None]


def test_two_digit_years_never_land_in_antiquity(con):
    parse = explicit_dates("%d/%m/%Y")
    assert read_dates(con, ["05/06/25"], parse) == [None]


def test_the_source_time_zone_is_applied_and_utc_stored(con):
    parse = explicit_dates("%Y-%m-%d %H:%M")
    values = ["2025-01-15 12:00", "2025-07-15 12:00"]
    assert read_dates(con, values, parse, "Europe/London") == [
        dt.datetime(2025, 1, 15, 12), dt.datetime(2025, 7, 15, 11)
    ]  # fmt: skip
    assert read_dates(con, values, parse, "America/New_York") == [
        dt.datetime(2025, 1, 15, 17), dt.datetime(2025, 7, 15, 16)
    ]  # fmt: skip


# --- durations, booleans, numbers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "values", "expected"),
    [
        (None, ["90", "0", "12.5"], [90.0, 0.0, 12.5]),
        ("minutes", ["90", "1.5"], [5400.0, 90.0]),
        ("hours", ["2"], [7200.0]),
        ("days", ["1"], [86400.0]),
        (None, ["1:30", "01:02:03", "0:00:07.5", "100:00:00"], [5400.0, 3723.0, 7.5, 360000.0]),
        ("minutes", ["1:30"], [5400.0]),  # clock text is clock text whatever the unit
        (None, ["-5"], [-5.0]),  # read here; validation then empties it as negative
        (None, ["abc", "1:2", "1:30:", ""], [None, None, None, None]),
    ],
)
def test_durations_read_numbers_with_a_unit_and_clock_text(con, unit, values, expected):
    assert evaluate(con, values, lambda v, p: duration_sql(v, unit, p)) == expected


def test_booleans_accept_the_usual_words_in_any_case(con):
    values = ["Y", "n", "Yes", "NO", "TRUE", "false", "1", "0", "t", "F", "x", "maybe", None]
    expected = [True, False, True, False, True, False, True, False, True, False, True, None, None]
    assert evaluate(con, values, lambda v, p: boolean_sql(v, p)) == expected


def test_a_mapping_can_add_its_own_boolean_words(con):
    got = evaluate(
        con, ["met", "breached", "y"], lambda v, p: boolean_sql(v, p, ("met",), ("breached",))
    )
    assert got == [True, False, True]


def test_contains_finds_a_whole_word_and_an_empty_cell_is_false(con):
    values = ["billing complaint", "complaints", "Complaint", None, "x,complaint"]
    got = evaluate(con, values, lambda v, p: contains_sql(v, "complaint", p))
    assert got == [True, False, True, False, True]


def test_clock_durations_need_minutes_and_seconds_below_sixty(con):
    # H:MM is hours and minutes (12:34 is 12 h 34 min); 99 minutes is no clock time.
    values = ["12:34", "0:59", "0:59:59", "1:5:7", "99:99", "1:99:99", "0:60", "1:60:00", "1:00:60"]
    got = evaluate(con, values, lambda v, p: duration_sql(v, None, p))
    assert got == [45240.0, 3540.0, 3599.0, 3907.0, None, None, None, None, None]


@pytest.mark.parametrize("unit", [None, "minutes", "hours"])
def test_a_non_finite_number_is_never_a_duration_whatever_the_unit(con, unit):
    values = ["nan", "NaN", "inf", "-Infinity", "1e400", "9" * 400, "9" * 400 + ":00", "2"]
    got = evaluate(con, values, lambda v, p: duration_sql(v, unit, p))
    assert got[:-1] == [None] * 7
    assert got[-1] is not None


def test_integers_are_whole_numbers_only(con):
    values = ["3", "3.0", "3.5", "three", "-2", "1e308", "9999999999999999999999", "inf"]
    assert evaluate(con, values, integer_sql_of) == [3, 3, None, None, -2, None, None, None]


def test_a_non_finite_number_is_never_a_count(con):
    values = ["NaN", "nan", "-inf", "Infinity", "1e400", "2"]
    assert evaluate(con, values, integer_sql_of) == [None, None, None, None, None, 2]


def integer_sql_of(v: str, _p: Params) -> str:
    return integer_sql(v)


def test_scores_read_decimal_commas_and_labels(con):
    labels = {"good": 2.0, "bad": 1.0, "offered": None}
    got = evaluate(
        con, ["Good", "BAD", "Offered", "4,5", "7", "great"], lambda v, p: score_sql(v, labels, p)
    )
    assert got == [2.0, 1.0, None, 4.5, 7.0, None]


def test_a_non_finite_number_is_never_a_score(con):
    values = ["NaN", "nan", "inf", "-Infinity", "1e400", "1e400,5", "8"]
    assert evaluate(con, values, lambda v, p: score_sql(v, {}, p)) == [None] * 6 + [8.0]


def test_a_label_given_a_non_finite_score_reads_as_nothing(con):
    labels = {"good": 2.0, "weird": float("nan"), "huge": float("inf")}
    got = evaluate(con, ["weird", "Huge", "NaN", "good"], lambda v, p: score_sql(v, labels, p))
    assert got == [None, None, None, 2.0]


@pytest.mark.parametrize(
    "variant",
    ["Asha", "Asha\u200b", "\u202aAsha\u202c", "\uff21\uff53\uff48\uff41", "Asha\u00a0",
     "\ufeffAsha", "As\u00adha", "A\u200dsha\u2060", " Asha\t", "\u200fAsha\u200e"],
)  # fmt: skip
def test_invisible_and_fullwidth_variants_of_a_name_are_one_name(variant):
    assert name_text(variant) == "Asha"


def test_a_name_keeps_its_accents_and_inner_spaces_collapse_to_one():
    assert name_text("Zo\u00eb  \u00a0Smith") == "Zo\u00eb Smith"
    assert name_text("Zoe\u0301") == "Zo\u00e9"  # composed (NFKC)
    assert name_text("Leeds\u2003Care") == "Leeds Care"  # an em space is a space
    assert name_text("\u200b\u00ad") is None  # nothing visible left


def test_category_words_are_mapped_whatever_their_invisible_spelling(con):
    # The source word arrives normalised by staging; a mapping's own word is normalised too.
    mapping = {"awaiting\u00a0user": "pending"}
    got = evaluate(con, ["awaiting user"], lambda v, p: category_sql(v, "status", mapping, p))
    assert got == ["pending"]


def test_category_words_use_the_mapping_then_the_built_in_synonyms(con):
    mapping = {"awaiting user info": "pending"}
    values = ["Open", "On Hold", "Awaiting User Info", "Solved", "sideways"]
    got = evaluate(con, values, lambda v, p: category_sql(v, "status", mapping, p))
    assert got == ["open", "on_hold", "pending", "resolved", None]
    priorities = evaluate(
        con,
        ["3 - Moderate", "1 - Critical", "Medium"],
        lambda v, p: category_sql(v, "priority", {}, p),
    )
    assert priorities == ["normal", "urgent", "normal"]


def test_text_is_trimmed_and_null_words_are_empty(con):
    got = evaluate(
        con, ["  a  ", "", "?", "NA", "b"], lambda v, p: text_value([v], p, ("?", "NA"), None)
    )
    assert got == ["a", None, None, None, "b"]


def test_an_extract_pattern_keeps_its_first_group(con):
    values = ["Asha Patel (asha@x.example)", "Ben Ng"]
    got = evaluate(con, values, lambda v, p: text_value([v], p, (), r"^\s*([^(]*[^( ])"))
    assert got == ["Asha Patel", "Ben Ng"]


def test_values_from_mappings_reach_sql_only_as_parameters(con):
    hostile = "x'); DROP TABLE t; --"
    got = evaluate(
        con,
        [hostile, "open"],
        lambda v, p: category_sql(v, "status", {hostile.lower(): "closed"}, p),
    )
    assert got == ["closed", "open"]
    assert con.execute("SELECT count(*) FROM t").fetchone() == (2,)


# --- two shapes of date in one column (issue 9) -------------------------------------------------


def shapes_of(con, values: list[str | None]):
    load(con, values)
    return date_shapes(con, "t", "v")


def test_each_numeric_date_shape_says_which_order_its_own_values_prove(con):
    shapes = shapes_of(
        con, ["22-04-2015", "23-04-2015 10:00", "4/8/2015", "5/9/2015", "2015-04-22", None]
    )
    by = {s.separators: s for s in shapes}
    assert set(by) == {"--", "//"}  # ISO (year first) is not a day/month shape
    assert (by["--"].values, by["--"].order, by["--"].day_over_12) == (2, "dmy", "23-04-2015 10:00")
    assert (by["//"].values, by["//"].order, by["//"].example) == (2, None, "4/8/2015")


def test_a_shape_that_proves_nothing_beside_one_that_does_is_refused_naming_both(con):
    shapes = shapes_of(con, ["22-04-2015 09:00", "23-04-2015 10:00", "4/8/2015 10:00"])
    with pytest.raises(ImportProblem) as caught:
        check_date_shapes(con, shapes, DateDetection("Created", "opened_at"), "export.csv")
    message = str(caught.value)
    assert message.startswith(
        "export.csv: column 'Created' (opened_at) holds two date formats: 2 values written like "
        "'22-04-2015 09:00' (day-first, as '23-04-2015 10:00' shows) and 1 like '4/8/2015 10:00'"
    )
    assert 'date_format = ["%d-%m-%Y %H:%M", "%d/%m/%Y %H:%M"] if it is 4 August 2015' in message
    assert '["%d-%m-%Y %H:%M", "%m/%d/%Y %H:%M"] if it is 8 April 2015' in message


@pytest.mark.parametrize(
    "values",
    [
        ["22-04-2015", "4/18/2015"],  # each proves its own order
        ["03/04/2025", "05/06/2025"],  # one shape: the existing ambiguity check says it
        ["22/04/2015", "4/8/2015"],  # one shape, proved by its own values
        ["22-04-2015", "2015-04-08"],  # ISO beside it is never ambiguous
    ],
)
def test_shapes_that_each_stand_alone_are_not_refused(con, values):
    check_date_shapes(con, shapes_of(con, values), DateDetection("c", "opened_at"), "f.csv")


def test_two_shapes_each_proving_its_order_are_read_each_in_its_own(con):
    values = ["22-04-2015 09:00", "4/18/2015 10:00", "23-04-2015 11:00", "5/19/2015 12:00"]
    assert [d.isoformat() for d in detect_then_read(con, values)] == [
        "2015-04-22T08:00:00", "2015-04-18T09:00:00", "2015-04-23T10:00:00",
        "2015-05-19T11:00:00",
    ]  # fmt: skip


def detect_then_read(con, values):
    parse = detect(con, values)
    return read_dates(con, values, parse)


def test_a_list_of_formats_is_tried_in_order_and_named_in_order(con):
    parse = explicit_dates(("%d-%m-%Y", "%m/%d/%Y"))
    assert parse.label == "%d-%m-%Y, then %m/%d/%Y"
    assert read_dates(con, ["22-04-2015", "4/8/2015", "2015-04-09"], parse, "UTC") == [
        dt.datetime(2015, 4, 22), dt.datetime(2015, 4, 8), dt.datetime(2015, 4, 9),
    ]  # fmt: skip


def test_iso_with_slashes_and_milliseconds_is_detected(con):
    values = ["2015/04/22 09:00:01.123", "2015/04/23 17:30:00.500"]
    assert detect(con, values).label == "ISO 8601"
    assert read_dates(con, values, detect(con, values), "UTC") == [
        dt.datetime(2015, 4, 22, 9, 0, 1, 123000), dt.datetime(2015, 4, 23, 17, 30, 0, 500000),
    ]  # fmt: skip


# --- the order proved by a month word, and hints that import (issue 9, review) -----------------


def test_a_month_word_never_proves_the_order_of_numeric_dates_beside_it(con):
    values = ["22 Apr 2015 09:00", "4/8/2015 10:00", "23 Apr 2015 11:00", "5/9/2015 12:00"]
    with pytest.raises(ImportProblem) as caught:
        detect(con, values)
    message = str(caught.value)
    assert message.startswith(
        "export.csv: column 'Created' (opened_at) holds two date formats: 2 values written like "
        "'22 Apr 2015 09:00' (the month as a word, read day-first) and 2 like '4/8/2015 10:00'"
    )
    assert '["%d %b %Y %H:%M", "%d/%m/%Y %H:%M"] if it is 4 August 2015' in message
    assert '["%d %b %Y %H:%M", "%m/%d/%Y %H:%M"] if it is 8 April 2015' in message


def test_numeric_dates_that_prove_their_own_order_beside_month_words_are_read(con):
    values = ["22 Apr 2015 09:00", "13/8/2015 10:00", "4/8/2015 11:00"]
    assert [d.day for d in detect_then_read(con, values)] == [22, 13, 4]


def _hinted_lists(message: str) -> list[list[str]]:
    import json
    import re

    return [json.loads(found) for found in re.findall(r"(\[[^\]]*\]) if it is", message)]


@pytest.mark.parametrize(
    ("values", "said"),
    [
        (["22-04-2015T09:00", "4/8/2015 10:00"], "1 value written like '22-04-2015T09:00'"),
        (["22-04-2015 09:00", "22-04-2015", "4/8/2015 10:00", "4/8/2015"], "2 values written"),
        (["22 Apr 2015 09:00", "4/8/2015 10:00", "4/8/15"], "2 like '4/8/15'"),
    ],
)
def test_each_hinted_date_format_list_reads_every_value_when_followed(con, values, said):
    with pytest.raises(ImportProblem) as caught:
        detect(con, values)
    message = str(caught.value)
    assert said in message
    lists = _hinted_lists(message)
    assert len(lists) == 2 and all(all(lists) for lists in lists)  # never an empty format
    read = [read_dates(con, values, explicit_dates(formats)) for formats in lists]
    assert all(None not in dates for dates in read)
    assert read[0] != read[1]  # 4 August one way, 8 April the other


def test_third_party_worded_timestamps_with_an_offset_are_detected(con):
    # Twitter/X's created_at and an email Date: header; the offset decides the instant.
    values = ["Tue Oct 31 22:10:47 +0000 2017", "Wed, 01 Nov 2017 09:05:00 +0100"]
    parse = detect(con, values)
    assert parse.label.startswith("worded with an offset")
    assert read_dates(con, values, parse) == [
        dt.datetime(2017, 10, 31, 22, 10, 47),
        dt.datetime(2017, 11, 1, 8, 5),
    ]
