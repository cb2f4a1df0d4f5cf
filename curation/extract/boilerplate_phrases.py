"""Boilerplate phrases for curation.extract.boilerplate's phrase rule: notices, prompts and stamps, not article text.

Grouped by what they are; each group's sources are named below. Multilingual (English, German, French, Spanish,
Italian, Polish: the languages of the benchmark pages), whole words or phrases, case-insensitive.
"""

from __future__ import annotations

import re

#: A block under curation.extract.boilerplate.PHRASE_MAX_CHARS that holds one of these is a notice, not text. C4's line rule
#: (c4_utils: "terms of use", "privacy policy") widened to the prompts Trafilatura removes by class or id
#: (OVERALL_DISCARD_XPATH: share/social, newsletter, related, comment, author, ad; RE_FILTER: "Mehr zum Thema",
#: "More on this") in the languages of the benchmark pages, plus photo credits and date/update stamps. Whole
#: words and phrases, never a site's wording; a space matches any run of white space.
PHRASES: dict[str, str] = {
    "subscribe": r"newsletter|subscri(?:be|ber|bers|ption)|abonn(?:ieren|iere|ement|ez|er)\b|suscr[ií]b|iscriviti|"
                 r"sign(?:\s|-)?(?:up|in)\b|log(?:\s|-)?in\b|einloggen|"
                 r"(?:jetzt|hier|kostenlos) (?:anmelden|registrieren)|se connecter|inicia(?:r)? sesi[oó]n",
    "share": r"share (?:this|on|via)|teilen\b|partager|compartir|condividi|follow us|folg(?:en sie|t) uns|"
             r"suivez-nous|s[ií]guenos|seguici",
    "more": r"read more|continue reading|read the rest|weiterlesen|mehr lesen|lire la suite|leer m[aá]s|"
            r"leggi (?:tutto|anche)|czytaj (?:wi[eę]cej|tak[zż]e)|more from|lesen sie auch|mehr zum thema|"
            r"das k[oö]nnte sie auch interessieren|weitere (?:beitr[aä]ge|artikel|themen|nachrichten)|"
            r"you (?:may|might) also like|^related:?$|"
            r"related (?:articles?|posts?|stories|content|news|links|topics|reading|videos?)|à lire aussi|voir aussi|"
            r"lire aussi|te puede interesar|"
            r"noticias relacionadas|neueste artikel|top themen|empfohlen von|"
            r"recommended (?:for you|articles|stories|reading)|zum weiterlesen",
    "comment": r"leave a (?:comment|reply)|post a comment|add a comment|\d+ comments?\b|comments? (?:are )?closed|"
               r"no comments|kommentar(?:e|ieren)\b|kommentieren|commentaires?\b|comentarios?\b|"
               r"will not be published|wird nicht ver[oö]ffentlicht",
    "donate": r"donat(?:e|ion)|spenden?\b|support us|unterst[uü]tzen sie uns",
    "credit": r"(?:^|\()(?:foto|fotos|photo|photos|bild|titelbild|image|credit|quelle|source|cr[ée]dit|imagen)s?\s*:",
    "date": r"aktualisiert|last modified|(?:last )?updated(?: on|:| at)|(?:first )?published(?: on|:| at)|"
            r"ver[oö]ffentlicht am|publi[ée] le|mis à jour|actualizado|zuletzt ge[äa]ndert",
    "legal/ads": r"all rights reserved|alle rechte vorbehalten|tous droits r[ée]serv[ée]s|"
                 r"todos los derechos reservados|tutti i diritti riservati|terms of use|privacy policy|advertis|"
                 r"affiliate|"
                 r"^(?:werbung|anzeige|publicidad|publicit[ée])$",  # an ad label alone, not an article on ads
    "click": r"click here|klicken sie hier|hier klicken|hier geht es zu|cliquez ici|haga clic|clicca qui",
    "listen": r"listen to (?:this|the) (?:article|story)|artikel (?:an)?h[oö]ren|escucha esta nota|"
              r"[ée]couter (?:cet |l')article|ascolta l'articolo",
}


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regular expression's source (``|`` outside groups and classes)."""
    out, depth, in_class, escaped, start = [], 0, False, False, 0
    for i, ch in enumerate(pattern):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch in "()":
            depth += 1 if ch == "(" else -1
        elif ch == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
    return out + [pattern[start:]]


def _by_first_letter(alternatives: list[str]) -> str:
    """One alternation with the alternatives that start with the same letter grouped under it: ``a(?:X|Y)`` matches
    what ``aX|aY`` matches, and ``re`` then tries one branch per first letter at each word boundary instead of
    every phrase (a third of the CPU time; the phrase rule's searches were a third of the cleaner's)."""
    groups: dict[str, list[str]] = {}
    rest = []
    for alt in alternatives:
        if len(alt) > 1 and alt[0].isalpha() and alt[1] not in "?*+{":  # a plain first letter, not quantified
            groups.setdefault(alt[0], []).append(alt[1:])
        else:
            rest.append(alt)
    return "|".join([f"{c}(?:{'|'.join(tails)})" for c, tails in groups.items()] + rest)


#: Every phrase starts at a word boundary, save the credit line's "Foto:" which starts a block or a bracket. The
#: text is lower-cased once instead of matching with re.IGNORECASE (several times faster; the patterns are lower case).
_WORD_PHRASES = "|".join(v for k, v in PHRASES.items() if k != "credit").replace(" ", r"\s+")
_WORDS = re.compile(r"\b(?:" + _by_first_letter(_alternatives(_WORD_PHRASES)) + ")")
_CREDIT = re.compile(PHRASES["credit"])


def is_notice(text: str) -> bool:
    """True when ``text`` holds a boilerplate phrase (a short block with one is dropped)."""
    low = text.lower()
    return bool(_WORDS.search(low) or _CREDIT.search(low))


def trim_edge_lines(text: str, max_chars: int) -> str:
    """A kept block's first and last lines (``<br>``-separated) dropped while they are notices: the phrase rule at
    line level, for a "Read more"/"click here" line at the end of a long paragraph."""
    if "\n" not in text or max_chars <= 0:
        return text
    lines = text.split("\n")
    while len(lines) > 1 and len(lines[-1].strip()) < max_chars and is_notice(lines[-1]):
        lines.pop()
    while len(lines) > 1 and len(lines[0].strip()) < max_chars and is_notice(lines[0]):
        lines.pop(0)
    return "\n".join(lines).strip()
