"""Named, versioned prompt templates for the rewriting stage.

Every rewrite records the template's ``name`` and ``version``; change a template's wording and bump its version, so
the cache (keyed by name, version, model, parameters and source text) regenerates exactly what the new wording
affects and the mixture can tell old rewrites from new ones.

Sources (paraphrased, not copied; shortened where the 135M offline default cannot follow a two-part answer):
- ``rewire_full``: REWIRE, "Recycling the Web" (Nguyen et al., 2025): the page is treated as a draft of a task;
  the model reasons about the task, then writes an improved draft. The answer's "Improved draft:" section is kept.
- ``rewire``: the same guided rewrite without the reasoning section, for small models.
- ``wikipedia``: WRAP, "Rephrasing the Web" (Maini et al., 2024) and Nemotron-CC (Su et al., 2024) low-quality
  rephrasing: a paraphrase in the style of Wikipedia sentences.
- ``qa``: WRAP's question-answer style and Nemotron-CC's diverse QA pairs (for high-quality documents).
- ``fineweb_edu``: the rubric of FineWeb-Edu's annotations (Penedo et al., 2024, "The FineWeb Datasets", appendix;
  Llama-3-70B graded 450k pages with it), also the basis of Nemotron-CC's educational-value classifier: an
  additive 0-5 score, one point per criterion met, answered as "Educational score: <points>"
  (``curation.llm.annotate`` parses it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WRAP_SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
               "The assistant gives helpful, detailed, and polite answers to the questions.")


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    purpose: str  # "recover" (low-quality pages), "rephrase" (style rephrasing of good pages) or "grade" (annotation)
    system: str | None
    template: str  # with {text}
    answer_marker: str | None = None  # keep only what follows this marker when the model writes it

    def messages(self, text: str) -> list[dict]:
        msgs = [{"role": "system", "content": self.system}] if self.system else []
        return msgs + [{"role": "user", "content": self.template.format(text=text)}]

    @property
    def tag(self) -> str:
        return f"{self.name}@{self.version}"


PROMPTS: dict[str, Prompt] = {p.name: p for p in (
    Prompt(
        name="rewire", version="1", purpose="recover", system=None,
        template=("Below is a draft of a web page. Work out what the page is trying to tell or teach its reader. "
                  "Then rewrite it as clear, well-organised prose that keeps every fact, name, number and step, "
                  "and leaves out navigation, advertising, prompts to click or share, and other boilerplate. "
                  "Write only the improved text.\n\nDraft:\n{text}\n\nImproved text:"),
    ),
    Prompt(
        name="rewire_full", version="1", purpose="recover", system=None,
        template=("Below is a draft written while trying to accomplish a task or explain something. Analyse the "
                  "task the draft serves. Then take the role of the expert best placed to accomplish it: think "
                  "through, step by step, how the draft should be organised and what it is missing or gets "
                  "wrong, and finally write an improved draft that keeps the draft's information and states it "
                  "clearly and completely.\n\nDraft:\n{text}\n\nAnswer in this format:\n"
                  "Thinking: <your reasoning>\nImproved draft: <the improved draft>"),
        answer_marker="Improved draft:",
    ),
    Prompt(
        name="wikipedia", version="1", purpose="recover", system=WRAP_SYSTEM,
        template=("For the following paragraph give me a paraphrase of the same in high-quality English "
                  "language as in sentences on Wikipedia. Keep all of its information.\n\n{text}"),
    ),
    Prompt(
        name="qa", version="1", purpose="rephrase", system=WRAP_SYSTEM,
        template=("Convert the following text into a set of questions and answers about its content. Write "
                  "each pair as \"Question:\" followed by \"Answer:\". The answers must use only information "
                  "from the text and together cover all of it.\n\n{text}"),
    ),
    Prompt(
        name="fineweb_edu", version="1", purpose="grade", system=None,
        template=("Below is an extract from a web page. Evaluate whether the page has a high educational value "
                  "and could be useful in an educational setting for teaching from primary school to grade "
                  "school levels, using the additive 5-point scoring system described below. Points are "
                  "accumulated based on the satisfaction of each criterion:\n"
                  "- Add 1 point if the extract provides some basic information relevant to educational topics, "
                  "even if it includes some irrelevant or non-academic content like advertisements and "
                  "promotional material.\n"
                  "- Add another point if the extract addresses certain elements pertinent to education but does "
                  "not align closely with educational standards. It might mix educational content with "
                  "non-educational material, offering a superficial overview of potentially useful topics, or "
                  "presenting information in a disorganized manner and incoherent writing style.\n"
                  "- Award a third point if the extract is appropriate for educational use and introduces key "
                  "concepts relevant to school curricula. It is coherent though it may not be comprehensive.\n"
                  "- Grant a fourth point if the extract is highly relevant and beneficial for educational "
                  "purposes for a level not higher than grade school, exhibiting a clear and consistent writing "
                  "style. It is well-organized and focused, with minimal non-educational content.\n"
                  "- Bestow a fifth point if the extract is outstanding in its educational value, perfectly "
                  "suited for teaching either at primary school or grade school.\n\n"
                  "The extract:\n{text}\n\nAfter examining the extract:\n"
                  "- Briefly justify your total score, up to 100 words.\n"
                  "- Conclude with the score using the format: \"Educational score: <total points>\""),
    ),
)}

# Preambles that chat models put before the answer ("Here is a paraphrased version:"); removed, not rejected.
_PREAMBLE = re.compile(r"^\s*(?:sure[,!.]?\s*)?(?:here(?:'s| is| are)\b[^\n:]{0,80}:|certainly[^\n:]{0,60}:)\s*",
                       re.IGNORECASE)


def get(name: str) -> Prompt:
    try:
        return PROMPTS[name]
    except KeyError:
        raise ValueError(f"unknown prompt {name!r}; choose from {sorted(PROMPTS)}") from None


def clean_output(prompt: Prompt, text: str) -> str:
    """The rewrite proper: the part after the template's answer marker (when present), without a preamble."""
    out = text or ""
    if prompt.answer_marker:
        i = out.lower().rfind(prompt.answer_marker.lower())
        if i >= 0:
            out = out[i + len(prompt.answer_marker):]
    out = _PREAMBLE.sub("", out, count=1)
    return out.strip()
