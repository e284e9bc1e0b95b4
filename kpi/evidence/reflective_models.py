"""Reflective models and their prompts, adapted to the learner's level.

STAR plus a Reflection step (the default: plain STAR stops at the result and gives no learning
point), Gibbs' cycle (good for difficult incidents such as complaints) and Driscoll's What / So
what / Now what (quick weekly notes). Level 2 prompts ask to explain and apply; Level 3 prompts
ask to analyse, evaluate and show impact. HEAT and LATER are complaint-handling content a team can
rewrite, because providers expand the letters differently.
"""

from __future__ import annotations

from dataclasses import dataclass

from kpi.errors import InvalidChoice
from kpi.insights import Insight
from kpi.store.connection import Store

DEFAULT_MODEL = "STAR+Reflection"
COMPLAINT_SETTING = "reflections.complaint_models"


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    #: Level 2: explain and apply.
    level2: str
    #: Level 3: analyse, evaluate, show impact.
    level3: str

    def prompt(self, level: int) -> str:
        return self.level3 if level >= 3 else self.level2


MODELS: dict[str, tuple[Step, ...]] = {
    "STAR+Reflection": (
        Step(
            "situation",
            "Situation",
            "Describe the situation: which KPI, which period, what the chart shows.",
            "Set the context: the KPI, its definition, the period and n, and why it mattered.",
        ),
        Step(
            "task",
            "Task",
            "Explain what you were responsible for.",
            "State your responsibility and the goal, with the baseline figure.",
        ),
        Step(
            "action",
            "Action",
            "Explain what you did, step by step (your own actions, not the team's).",
            "Analyse the options you considered and justify the action you chose.",
        ),
        Step(
            "result",
            "Result",
            "Say what happened afterwards, using the numbers.",
            "Evaluate the result against the baseline: is it more than chance, and what was "
            "the impact on customers and the business?",
        ),
        Step(
            "reflection",
            "Reflection",
            "What did you learn, and how will you apply it?",
            "Critically reflect: what would you do differently, and what is the wider lesson?",
        ),
    ),
    "Gibbs": (
        Step(
            "description",
            "Description",
            "Describe what happened.",
            "Describe what happened, with the data.",
        ),
        Step(
            "feelings",
            "Feelings",
            "How did you feel, and how do you think the customer felt?",
            "How did feelings (yours, the customer's) shape what happened?",
        ),
        Step(
            "evaluation",
            "Evaluation",
            "What went well and what did not?",
            "Evaluate what went well and badly, using the figures and feedback.",
        ),
        Step(
            "analysis",
            "Analysis",
            "Explain why you think it happened.",
            "Analyse the root cause (5 Whys, fishbone) and the customer journey touchpoint.",
        ),
        Step(
            "conclusion",
            "Conclusion",
            "What else could you have done?",
            "Conclude: what alternatives were there, and what would their impact have been?",
        ),
        Step(
            "action_plan",
            "Action plan",
            "What will you do next time?",
            "Set out the action plan and how you will measure its impact.",
        ),
    ),
    "What/So what/Now what": (
        Step(
            "what", "What?", "What happened? Use the chart.", "What happened? Use the chart and n."
        ),
        Step(
            "so_what",
            "So what?",
            "Why does it matter to customers and to you?",
            "Analyse why it happened and evaluate what it means for customers and the business.",
        ),
        Step(
            "now_what",
            "Now what?",
            "What will you do next?",
            "What will you change, and how will you show its impact?",
        ),
    ),
}

#: Complaint-handling models as editable content: providers expand the letters differently, so
#: a team can rewrite them (stored in settings) and the text is never treated as fixed truth.
DEFAULT_COMPLAINT_MODELS: dict[str, list[list[str]]] = {
    "HEAT": [
        ["hear", "Hear", "How did you let the customer explain in full?"],
        ["empathise", "Empathise", "How did you show you understood the impact on them?"],
        ["apologise", "Apologise", "How did you apologise sincerely for the experience?"],
        ["take_ownership", "Take ownership", "What did you own and see through to the end?"],
    ],
    "LATER": [
        ["listen", "Listen", "What did you hear, without interrupting?"],
        ["acknowledge", "Acknowledge", "How did you acknowledge the problem?"],
        ["take_action", "Take action", "What action did you take or agree?"],
        ["explain", "Explain", "How did you explain what would happen next?"],
        ["record", "Record", "What did you record so the cause can be fixed?"],
    ],
}


def complaint_models(store: Store | None = None) -> dict[str, list[list[str]]]:
    """HEAT and LATER steps, as the team last edited them (defaults otherwise)."""
    saved = store.get_setting(COMPLAINT_SETTING, None) if store is not None else None
    return saved or DEFAULT_COMPLAINT_MODELS


def save_complaint_models(store: Store, models: dict[str, list[list[str]]]) -> None:
    for name, steps in models.items():
        if not steps or any(len(s) != 3 or not all(isinstance(v, str) for v in s) for s in steps):
            raise InvalidChoice(f"{name}: each step needs a key, a label and a prompt")
    store.set_setting(COMPLAINT_SETTING, models)


def prompts(
    model: str,
    level: int,
    insight: Insight | None = None,
    store: Store | None = None,
    complaint: bool = False,
) -> list[tuple[str, str, str]]:
    """(section key, label, prompt) for a model at a level; the insight's own prompts join the
    last step, and complaint reflections get the HEAT and LATER steps."""
    if model not in MODELS:
        raise InvalidChoice(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
    out = [(s.key, s.label, s.prompt(level)) for s in MODELS[model]]
    if insight is not None:
        extra = " ".join(insight.prompts_for(level))
        key, label, prompt = out[-1]
        out[-1] = (key, label, f"{prompt} {extra}".strip())
    if complaint or (insight is not None and insight.kind == "driver"):
        for name, steps in complaint_models(store).items():
            out += [
                (f"{name.lower()}.{key}", f"{name}: {label}", text) for key, label, text in steps
            ]
    return out
