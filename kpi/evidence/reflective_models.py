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
    # The revision notes' expansion (Listen, Apologise, Thank, Explain, Resolve); one note
    # has Empathise for the E, so that step asks for both. A team rewrites any of it.
    "LATER": [
        ["listen", "Listen", "How did you listen to the whole complaint without interrupting?"],
        ["apologise", "Apologise", "How did you apologise for how the customer was affected?"],
        ["thank", "Thank", "How did you thank the customer for raising it?"],
        [
            "explain",
            "Explain / Empathise",
            "How did you explain what would happen next, and show you understood how they felt?",
        ],
        ["resolve", "Resolve", "How was it resolved, and how did you check the customer agreed?"],
    ],
}


def complaint_models(store: Store | None = None) -> dict[str, list[list[str]]]:
    """HEAT and LATER steps, each as the team last edited it (its default otherwise)."""
    saved = store.get_setting(COMPLAINT_SETTING, None) if store is not None else None
    return {**DEFAULT_COMPLAINT_MODELS, **(saved or {})}


def model_text(name: str, store: Store | None = None) -> str:
    """One complaint model as the learner edits it: a line per step, "Label: prompt"."""
    steps = complaint_models(store).get(name)
    if steps is None:
        raise InvalidChoice(
            f"unknown model {name!r}; choose from {', '.join(DEFAULT_COMPLAINT_MODELS)}"
        )
    return "\n".join(f"{label}: {prompt}" for _, label, prompt in steps)


def save_model_text(store: Store, name: str, text: str) -> list[list[str]]:
    """Save a model edited as ``model_text``; a step keeps its key (so written sections stay
    with it) while its label is unchanged or it stays in the same place."""
    old = complaint_models(store).get(name)
    if old is None:
        raise InvalidChoice(
            f"unknown model {name!r}; choose from {', '.join(DEFAULT_COMPLAINT_MODELS)}"
        )
    steps: list[list[str]] = []
    for number, line in enumerate((t for t in text.splitlines() if t.strip()), start=1):
        label, sep, prompt = line.partition(":")
        if not sep or not label.strip() or not prompt.strip():
            raise InvalidChoice(
                f"{name}, line {number}: write each step as 'Label: the question to answer'"
            )
        key = next((k for k, lbl, _ in old if lbl == label.strip()), None)
        if key is None:
            key = old[number - 1][0] if number <= len(old) else _key(label)
        if key in {k for k, _, _ in steps}:  # two steps never share where their text is kept
            key = f"{_key(label)}_{number}"
        steps.append([key, label.strip(), prompt.strip()])
    if not steps:
        raise InvalidChoice(f"{name}: write at least one step as 'Label: the question to answer'")
    saved = store.get_setting(COMPLAINT_SETTING, None) or {}
    save_complaint_models(store, {**saved, name: steps})
    return steps


def _key(label: str) -> str:
    return "_".join("".join(c if c.isalnum() else " " for c in label.lower()).split())[:40]


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
