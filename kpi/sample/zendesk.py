"""The tickets in the layout of Zendesk Support's admin CSV export (header kept exactly)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kpi.sample.story import CATEGORIES, Customers
from kpi.sample.tickets import PRIORITIES


def _stamp(values: pd.Series, keep: pd.Series) -> pd.Series:
    text = pd.Series(
        pd.DatetimeIndex(values.to_numpy().astype("datetime64[s]")).strftime("%Y-%m-%d %H:%M:%S")
    )
    return text.where(keep.to_numpy(), "")


def _minutes(values: pd.Series, keep: pd.Series) -> pd.Series:
    return (
        pd.Series(np.round(values.to_numpy()).astype(np.int64))
        .astype("Int64")
        .where(keep.to_numpy())
    )


def _tags(t: pd.DataFrame) -> list[str]:
    slug = {c: c.lower().replace(" ", "_") for c in CATEGORIES}
    return [
        " ".join([slug[c], *(["complaint"] if comp else []), *(["escalated"] if esc else [])])
        for c, comp, esc in zip(t["category"], t["complaint"], t["escalated"], strict=True)
    ]


ZENDESK_HEADER = [
    "Summation column",
    "Id",
    "Requester",
    "Requester id",
    "Requester external id",
    "Requester email",
    "Requester domain",
    "Submitter",
    "Assignee",
    "Group",
    "Subject",
    "Tags",
    "Status",
    "Priority",
    "Via",
    "Ticket type",
    "Created at",
    "Updated at",
    "Assigned at",
    "Organization",
    "Due date",
    "Initially assigned at",
    "Solved at",
    "Resolution time",
    "Satisfaction Score",
    "Group stations",
    "Assignee stations",
    "Reopens",
    "Replies",
    "First reply time in minutes",
    "First reply time in minutes within business hours",
    "First resolution time in minutes",
    "First resolution time in minutes within business hours",
    "Full resolution time in minutes",
    "Full resolution time in minutes within business hours",
    "Agent wait time in minutes",
    "Agent wait time in minutes within business hours",
    "Requester wait time in minutes",
    "Requester wait time in minutes within business hours",
    "On hold time in minutes",
    "On hold time in minutes within business hours",
    "Contact reason [list]",
]


def export_frame(t: pd.DataFrame, customers: Customers) -> pd.DataFrame:
    """The tickets in Zendesk's admin CSV layout; columns the story does not model stay empty."""
    who = t["customer"].to_numpy()
    email = pd.Series(customers.emails[who])
    done, replied, first_done = t["done"], t["replied"], t["first_done"]
    out = pd.DataFrame({h: "" for h in ZENDESK_HEADER}, index=t.index)
    out["Id"] = t["id"]
    out["Requester"] = customers.names[who]
    out["Requester id"] = customers.requester_ids[who]
    out["Requester email"] = email.to_numpy()
    out["Requester domain"] = email.str.split("@").str[1].to_numpy()
    out["Assignee"] = t["agent"].fillna("")
    out["Group"], out["Subject"], out["Tags"] = t["team"], t["subject"], _tags(t)
    out["Status"], out["Priority"] = t["status"], PRIORITIES[t["prio"].to_numpy()]
    out["Via"], out["Ticket type"] = t["via"], t["type"]
    out["Created at"] = _stamp(t["opened"], pd.Series(True, index=t.index)).to_numpy()
    out["Updated at"] = _stamp(t["updated"], pd.Series(True, index=t.index)).to_numpy()
    out["Solved at"] = _stamp(t["solved"], done).to_numpy()
    out["Resolution time"] = _minutes(
        t["full_res_min"] / 60.0, done
    ).to_numpy()  # hours, as Zendesk
    out["Satisfaction Score"] = t["satisfaction"]
    out["Group stations"], out["Assignee stations"] = t["group_stations"], t["assignee_stations"]
    out["Reopens"], out["Replies"] = t["reopens"], t["replies"]
    for column, value, keep in (
        ("First reply time in minutes", "first_reply_min", replied),
        ("First reply time in minutes within business hours", "first_reply_bh", replied),
        ("First resolution time in minutes", "first_res_min", first_done),
        ("First resolution time in minutes within business hours", "first_res_bh", first_done),
        ("Full resolution time in minutes", "full_res_min", done),
        ("Full resolution time in minutes within business hours", "full_res_bh", done),
    ):
        out[column] = _minutes(t[value], keep).to_numpy()
    out["Contact reason [list]"] = t["category"]
    return out
