"""Customer feedback: NPS with its interval and split, CSAT and CES distributions, how many
answered, and what customers wrote."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from dashboard import charts, components, data, filters
from kpi.engine.tables import long_frame

SCALES = {"nps": (0.0, 10.0), "csat": (1.0, 5.0), "ces": (1.0, 7.0)}

if components.page(
    "Customer feedback",
    "What customers said in surveys: NPS (promoters minus detractors), CSAT (% satisfied), CES "
    "(% finding it easy), how many answered, and their comments (personal details were removed "
    "at import).",
):
    chosen = filters.current()
    now, changes = data.compare(chosen, ("nps", "csat", "ces", "responses"))
    if not components.no_rows(now["responses"]):
        components.rag_legend()
        components.tiles([now[k] for k in ("nps", "csat", "ces", "responses")], changes)
        nps = now["nps"]
        if nps.n:
            promoters, detractors = nps.extra.get("promoters", 0), nps.extra.get("detractors", 0)
            split = charts.nps_split(promoters, nps.n - promoters - detractors, detractors)
            components.chart(split, "nps_split")

        st.subheader("How customers scored")
        for column, score in zip(st.columns(3), ("nps", "csat", "ces"), strict=True):
            counts = data.breakdown("score_counts", chosen, score)
            with column:
                for scale, part in counts.groupby("scale", sort=True):
                    part = part.assign(score=part.score.map("{:g}".format))
                    title = f"{score.upper()} answers (scale {scale})"
                    components.chart(
                        charts.bars(part, "score", "answers", title, "score", "answers"),
                        f"scores_{score}_{scale}",
                    )

        weekly = long_frame(
            data.report(chosen, grain="week", metrics=("responses",)), ("responses",)
        )
        components.chart(
            charts.trend(
                weekly[weekly.period != "undated"],
                "Survey responses",
                "count",
                notes=components.notes(chosen),
            ),
            "responses_trend",
        )

        st.subheader("Comments")
        words, which, cats = st.columns([2, 1, 2])
        text = words.text_input(
            "Words in the comment", key="comment_words", placeholder="e.g. bill"
        )
        score = which.selectbox(
            "Score",
            [None, "nps", "csat", "ces"],
            key="comment_score",
            format_func=lambda s: (s or "any score").upper() if s else "any score",
        )
        categories = cats.multiselect(
            "Category", data.segment_values()["category"], key="comment_category", placeholder="All"
        )
        low_high = None
        if score:
            low, high = SCALES[score]
            low_high = st.slider(
                f"{score.upper()} between", low, high, (low, high), step=1.0, key="comment_range"
            )
        narrowed = replace(chosen, category=tuple(categories)) if categories else chosen
        found = data.comments(narrowed, text, score, tuple(low_high) if low_high else None)
        st.caption(
            f"{len(found)} comments (newest first, at most 200), shown as plain text and not downloadable: exports carry aggregates only."
        )
        st.dataframe(found, hide_index=True, width="stretch")
