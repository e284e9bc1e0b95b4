"""Customer feedback: NPS with its interval and split, CSAT and CES distributions, how many
answered, and what customers wrote."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from dashboard import choices, components, data, drill, filters
from kpi.charts import figures
from kpi.engine.breakdowns import SCORES, by_scale
from kpi.engine.change import mark_parts
from kpi.engine.page_data import dated, undated_line
from kpi.engine.tables import for_people, long_frame
from kpi.metrics.registry import score_range, short_label
from kpi.store.scales import scale_labels, score_choices

if components.page(
    "Customer feedback",
    "What customers said in surveys: NPS (promoters minus detractors), CSAT (% satisfied), CES "
    "(% finding it easy), how many answered, and their comments (personal details were removed "
    "at import).",
):
    chosen = filters.current()
    now, changes = data.compare(chosen, ("nps", "csat", "ces", "responses"))
    if undated := undated_line(data.store(), chosen):
        st.caption(undated)
    if not components.no_rows(now["responses"]):
        components.rag_legend()
        drill.tiles([now[k] for k in ("nps", "csat", "ces", "responses")], chosen, changes)
        if now["nps"].n:
            # A click on the detractors or the promoters opens those answers.
            pick = components.chart(figures.nps_split_of(now["nps"]), "nps_split", pickable=True)
            drill.clicked(pick, "nps", chosen, widget="nps_split")

        st.subheader("How customers scored")
        for column, score in zip(st.columns(3), SCORES, strict=True):
            counts = data.breakdown("score_counts", chosen, score)
            with column:
                for part in by_scale(counts, score):
                    components.chart(
                        figures.bars(
                            part.counts, "score", "answers", part.title, "score", "answers"
                        ),
                        f"scores_{score}_{part.scale}",
                    )

        weeks = data.report(chosen, grain="week", metrics=("responses",))
        weekly = mark_parts(dated(long_frame(weeks, ("responses",))), weeks)
        pick = components.chart(
            figures.trend(
                weekly,
                "Survey responses",
                "count",
                notes=components.notes(chosen),
                grain="week",
            ),
            "responses_trend",
            pickable=True,  # a click on a week opens its answers
        )
        drill.clicked(pick, "responses", weeks.filters, "week", weeks.as_of, "responses_trend")

        st.subheader("Comments")
        words, which, cats = st.columns([2, 1, 2])
        choices.bind("words", "comment_words", None, "")
        text = words.text_input(
            "Words in the comment", key="comment_words", placeholder="e.g. bill"
        )
        choices.bind("score", "comment_score", SCORES)
        picked = which.selectbox(
            "Score",
            [None, *SCORES],
            key="comment_score",
            format_func=lambda s: short_label(s) if s else "any score",
        )
        topics = data.segment_values()["category"]
        choices.bind("topic", "comment_category", topics, [], many=True)
        categories = cats.multiselect("Category", topics, key="comment_category", placeholder="All")
        low_high: tuple[float, float] | None = None
        if picked:
            # Spans every scale the answers use (a 1-10 CSAT as well as a 1-5 one).
            low, high = score_range(picked, data.breakdown("score_counts", chosen, picked).scale)
            points = score_choices(scale_labels(data.store(), picked), low, high)
            worded = any(text != f"{value:g}" for value, text in points.items())
            if worded and low in points and high in points:
                # An ordinal scale of words (Bad ... Good): the slider shows them.
                low_high = st.select_slider(
                    f"{short_label(picked)} between",
                    list(points),
                    (low, high),
                    format_func=points.__getitem__,
                    key="comment_range",
                )
            else:
                low_high = st.slider(
                    f"{short_label(picked)} between",
                    low,
                    high,
                    (low, high),
                    step=1.0,
                    key="comment_range",
                )
        narrowed = replace(chosen, category=tuple(categories)) if categories else chosen
        found = data.comments(narrowed, text, picked, low_high)
        st.caption(
            f"{len(found)} comments (newest first, at most 200), shown as plain text and not downloadable: exports carry aggregates only."
        )
        components.dataframe(for_people(found))
