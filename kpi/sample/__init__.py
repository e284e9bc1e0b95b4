"""Deterministic sample exports for a fictional customer-care team (``kpi sample``).

`generate` writes a Zendesk ticket export, a call-log workbook, a survey CSV, the call queues'
interval report and the public social queue's message threads covering May 2025 to October 2026
(every kind of input the product reads), with a handful of planted patterns documented in
sample_data/README.md.
The same seed always gives byte-identical files: everything random comes from one seeded
numpy Generator and nothing reads the clock.

Stands apart from the pipeline (see ARCHITECTURE.md): it may import nothing of ``kpi``, so the
sample files cannot be shaped by the code that reads them; only ``kpi.cli`` imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np

from kpi.sample.calls import CALL_HEADER, build_calls, sheet_rows
from kpi.sample.clock import WorkingCalendar
from kpi.sample.files import write_csv, write_xlsx
from kpi.sample.intervals import FILE_NAME as INTERVALS_FILE
from kpi.sample.intervals import interval_report
from kpi.sample.story import DATED_NOTES, make_customers
from kpi.sample.surveys import build_surveys
from kpi.sample.threads import FILE_NAME as THREADS_FILE
from kpi.sample.threads import build_threads
from kpi.sample.threads import export_frame as thread_frame
from kpi.sample.tickets import build_tickets
from kpi.sample.zendesk import export_frame

__all__ = [
    "CONTACT_FILES",
    "DATED_NOTES",
    "DEFAULT_SEED",
    "FILE_NAMES",
    "INTERVALS_FILE",
    "THREADS_FILE",
    "generate",
]

DEFAULT_SEED = 20251
#: The tickets, calls and answers, written whatever the options.
CONTACT_FILES = ("zendesk_tickets.csv", "call_log.xlsx", "survey_responses.csv")
#: Every file `generate` writes by default, in the order it returns them.
FILE_NAMES = (*CONTACT_FILES, INTERVALS_FILE, THREADS_FILE)
CUSTOMERS_AT_FULL_SCALE = 14_000


def generate(
    out_dir: Path,
    seed: int = DEFAULT_SEED,
    progress: Callable[[str], None] | None = None,
    scale: float = 1.0,
    intervals: bool = True,
    threads: bool = True,
) -> list[Path]:
    """Write the sample exports into out_dir and return their paths.

    `scale` shrinks every daily volume (tests use a small one); the committed sample is scale 1.
    `intervals` writes the team's queue interval report (`INTERVALS_FILE`), an aggregate of the
    same calls (no random draws); `threads` the public social queue's messages (`THREADS_FILE`),
    from a random stream of their own. Either can be left out without changing the other files.
    """
    say = progress or (lambda _message: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Independent child streams, so changing one part of the story leaves the others' draws alone.
    # A fifth stream for the social threads leaves the first four as they were.
    people_rng, ticket_rng, call_rng, survey_rng, social_rng = np.random.default_rng(seed).spawn(5)
    # The teams answer queues 08:00-20:00 on weekdays and 09:00-13:00 on Saturdays; reported
    # business-hours figures use the dashboard's default office hours.
    span = (date(2025, 4, 1), date(2027, 6, 30))
    service = WorkingCalendar.build(*span, hours=(8, 20), saturday=(9, 13))
    office = WorkingCalendar.build(*span)
    customers = make_customers(people_rng, max(200, round(CUSTOMERS_AT_FULL_SCALE * scale)))
    say("Generating tickets")
    tickets = build_tickets(ticket_rng, customers, service, office, scale)
    say("Generating calls")
    calls = build_calls(call_rng, customers, scale)
    say("Generating survey responses")
    surveys = build_surveys(survey_rng, tickets, calls)
    tickets_path, calls_path, surveys_path = (out_dir / name for name in CONTACT_FILES)
    say(f"Writing {tickets_path.name} ({len(tickets)} tickets)")
    write_csv(export_frame(tickets, customers), tickets_path)
    say(f"Writing {calls_path.name} ({len(calls)} calls)")
    write_xlsx(calls_path, "Calls", CALL_HEADER, sheet_rows(calls, customers))
    say(f"Writing {surveys_path.name} ({len(surveys)} responses)")
    write_csv(surveys, surveys_path)
    written = [tickets_path, calls_path, surveys_path]
    if intervals:
        report = interval_report(calls)
        say(f"Writing {INTERVALS_FILE} ({len(report)} queue intervals)")
        written.append(write_csv(report, out_dir / INTERVALS_FILE))
    if threads:
        messages = build_threads(social_rng, customers, scale)
        say(f"Writing {THREADS_FILE} ({len(messages)} messages)")
        written.append(write_csv(thread_frame(messages), out_dir / THREADS_FILE))
    return written
