"""Skip rules matched by class token and checked before anything is skipped (issue 24). Pure functions, no I/O.

A CSS ``[class*=author]`` is a substring match over the whole ``class`` attribute. WordPress writes the post
author's slug into the post's own class list (``<article class="post author-jane ...">``, ``post_class()``), so
that selector matched the ``<article>`` and Resiliparse dropped the whole post. Here the coarse selectors
(``CANDIDATES``: the old skip selectors) only *find* candidates, and each one is checked in Python the way
Trafilatura's ``xpaths.py`` scopes its discard rules (``OVERALL_DISCARD_XPATH`` tests ``div``, ``section``,
``span``, ``p``, lists, never ``article``, ``main`` or ``body``; ``prune_unwanted_nodes(with_backup=True)`` prunes
nothing when the matches hold nearly all of the text):

1. the keyword must sit in one class token (or ``id`` token, for ``footer``) that is not a slug: WordPress's
   ``author-<user>``, ``comment-author-<user>``, a custom taxonomy's ``displayed_author-<user>``,
   ``category-<slug>``, ``tag-<slug>``, ``term-``/``tax-<slug>`` say nothing about the element. ``author-box``,
   ``author-bio``, ``post-author``, ``c-byline__item`` match: after ``author-`` the next word must name a part
   of an author box (``AUTHOR_PARTS``);
2. ``<html>``, ``<body>``, ``<main>`` and ``<article>`` are never skipped;
3. nor is an element that holds more than ``MAX_TEXT_SHARE`` (half) of the page's text (``<body>``'s text).

The chosen elements get the attribute ``MARK`` and Resiliparse skips ``SKIP`` (``[data-curation-skip]``): its
main-content rules then see the same tree as with CSS skip selectors (removing the subtrees in Python changes
what they keep). ``ElementNodeList.values()`` is used, not iteration: iterating the list is quadratic in
Resiliparse 2.0 (640 matches: 0.54 s; ``values()``: 1 ms).
"""

from __future__ import annotations

import re

#: Skipped whatever their class: the page title and a header without paragraphs (Trafilatura
#: PRECISION_DISCARD_XPATH ``.//header``; the article benchmark's bodies and Trafilatura leave the title out).
TAG_SELECTORS = ("header:not(:has(p))", "h1")
#: (keyword, any case, attribute, extra CSS): Trafilatura OVERALL_DISCARD_XPATH (footer in id and class, author
#: any case as its ``[Aa]uthor``, byline), DISCARD_IMAGE_ELEMENTS (caption), TEASER_DISCARD_XPATH (teaser, any
#: case), its related-box tokens "more-on"/"-stories" (``more-``), and title blocks its output leaves out.
KEYWORDS: tuple[tuple[str, bool, str, str], ...] = (
    ("title", False, "class", ":not(:has(p))"),
    ("caption", False, "class", ""),
    ("author", True, "class", ""),
    ("byline", False, "class", ""),
    ("footer", False, "class", ""),
    ("footer", False, "id", ""),
    ("more-", False, "class", ""),
    ("teaser", True, "class", ""),
)


def candidates(keywords=KEYWORDS) -> tuple[str, ...]:
    """The coarse CSS selectors that find the candidates of ``keywords`` (substring matches, as before issue 24)."""
    return TAG_SELECTORS + tuple(f'[{attr}*="{kw}"{" i" if ci else ""}]{extra}' for kw, ci, attr, extra in keywords)


CANDIDATES = candidates()
_JOINED, _DEFAULT = ", ".join(CANDIDATES), KEYWORDS  # the default rules' selector, joined once
PROTECTED_TAGS = frozenset({"html", "body", "main", "article"})
MAX_TEXT_SHARE = 0.5  # "most of the page's text": an element holding more is never skipped
MIN_CHECKED_CHARS = 100  # elements with less text are skipped without measuring the page
MARK = "data-curation-skip"
SKIP = [f"[{MARK}]"]
#: Slug prefixes written by WordPress's post_class() and body_class() (category-<slug>, tag-<slug>, ...).
_TAXONOMY = re.compile(r"^(?:category|tag|post_tag|term|tax|taxonomy|byuser)-.", re.I)
#: author-<word> anywhere in a token: WordPress's author-<user>, comment-author-<user>, and custom taxonomies such
#: as displayed_author-<user> (zdnet.de's theme) are user slugs unless <word> is a part of an author box.
_AUTHOR_WORD = re.compile(r"(?:^|[-_])author-([a-z0-9]+)", re.I)
#: The first word after ``author-`` that makes the token a part of an author box, not a user name.
AUTHOR_PARTS = frozenset(
    "about archive area attribution avatar bio block box by byline card col column contact container content "
    "credit data date desc description detail details email flyout follow footer header headshot holder image "
    "img info inner item label link links list main meta module more name names panel photo pic picture posts "
    "profile row section share signature social text title tooltip top twitter url widget wrap wrapper".split())


def is_slug(token: str) -> bool:
    """True for a taxonomy or user slug (``author-jane``, ``category-footer-news``), not for ``author-box``."""
    if _TAXONOMY.match(token):
        return True
    return any(w.lower() not in AUTHOR_PARTS for w in _AUTHOR_WORD.findall(token))


def token_match(value: str, keyword: str, any_case: bool) -> bool:
    """True when one white-space separated token of ``value`` holds ``keyword`` and is not a slug."""
    for tok in value.split():
        if keyword in (tok.lower() if any_case else tok) and not is_slug(tok):
            return True
    return False


def keyword_of(node, keywords=None) -> str | None:
    """The keyword rule a Resiliparse element meets by class (or id) token, or None."""
    for kw, any_case, attr, extra in keywords or KEYWORDS:
        value = node.getattr(attr)
        if value and token_match(value, kw, any_case):
            if extra and node.query_selector("p") is not None:
                continue  # "title" blocks holding a paragraph are text
            return kw
    return None


def mark_skipped(tree, max_share: float = MAX_TEXT_SHARE, keywords=None) -> tuple[int, int]:
    """Mark the elements the skip rules remove in a parsed Resiliparse ``HTMLTree``; extract with
    ``skip_elements=SKIP`` afterwards. Returns (elements marked, candidates kept: a slug, a protected tag, or an
    element holding most of the text). ``keywords``: the rules (default ``KEYWORDS``)."""
    body = tree.body
    if body is None:
        return 0, 0
    keywords = keywords or KEYWORDS
    selector = _JOINED if keywords is _DEFAULT else ", ".join(candidates(keywords))
    chosen, kept, body_len, last = [], 0, -1, None
    for node in body.query_selector_all(selector).values():  # document order: descendants follow their element
        if last is not None and last.contains(node):
            continue  # inside an element already skipped
        tag = node.tag
        by_tag = tag == "h1" or (tag == "header" and node.query_selector("p") is None)
        if tag in PROTECTED_TAGS or (not by_tag and keyword_of(node, keywords) is None):
            kept += 1
            continue
        n = len(node.text)
        if n > MIN_CHECKED_CHARS:
            if body_len < 0:
                body_len = len(body.text)
            if n > max_share * body_len:
                kept += 1
                continue
        chosen.append(node)
        last = node
    for node in chosen:
        node.setattr(MARK, "")
    return len(chosen), kept
