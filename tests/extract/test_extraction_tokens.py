"""Issue 24, part 1: skip rules match class tokens, never a slug, never a container (curation.extract.skip).

Real markup (tests/data/extraction, sources in its README.md): two WordPress posts whose ``<article>`` carries the
author's slug in its class list, which the substring selector ``[class*=author i]`` used to drop whole; and a
real article wrapped by the test in containers whose classes hold skip keywords, as some themes write them.
"""

import re

import pytest
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from curation.extract import skip
from curation.extract.html import ExtractionConfig, Extractor
from tests.extract.test_boilerplate import TRUTH, bow_f1, norm, page

OPTS = dict(main_content=True, preserve_formatting="minimal_html", list_bullets=False, alt_texts=False, links=True,
            form_fields=False, noscript=False, comments=False)




def marked(html: str) -> list[tuple[str, str]]:
    tree = HTMLTree.parse(html)
    skip.mark_skipped(tree)
    return [(n.tag, n.getattr("class") or "") for n in tree.body.query_selector_all(skip.SKIP[0]).values()]


@pytest.mark.parametrize("token, slug", [
    ("author-jane", True), ("comment-author-sammievee", True), ("displayed_author-stefan-beiersmann", True),
    ("category-footer-news", True), ("tag-teaser", True),
    ("author", False), ("author-box", False), ("Author-Bio-wrap", False), ("post-author", False),
    ("comment-author-link", False), ("c-byline__item", False), ("super-author--no-cover", False),
])
def test_slugs_are_told_from_author_boxes(token, slug):
    assert skip.is_slug(token) is slug
    keyword = next(k for k in ("author", "byline", "footer", "teaser") if k in token.lower())
    assert skip.token_match(f"post {token} hentry", keyword, True) is (not slug)


def test_a_keyword_must_sit_in_one_token():
    assert skip.token_match("site-footer dark", "footer", False)
    assert not skip.token_match("foot er", "footer", False)
    assert not skip.token_match("SiteFooter", "footer", False)  # footer is case-sensitive, as the CSS rule was
    assert skip.token_match("TeaserBox", "teaser", True)  # teaser and author match in any case (Trafilatura)


@pytest.mark.parametrize("name", ["solarserver.de-kraftwerk.html.gz", "zdnet.de.facebook.html.gz"])
def test_wordpress_posts_keep_their_body(name):
    html, t = page(name), TRUTH[name]
    tree = HTMLTree.parse(html)
    post = tree.body.query_selector("article")
    assert re.search(r"(?:^|[-_ ])author-", post.getattr("class")), "the post's class list names its author"
    # the substring selector drops the post: the bug of issue 24, on this markup
    before = extract_plain_text(HTMLTree.parse(html), skip_elements=["[class*=author i]"], **OPTS)
    assert not [s for s in t["with"] if norm(s) in norm(before)] and len(before) < 200
    extractor = Extractor()
    text = extractor(html)
    assert [s for s in t["with"] if norm(s) not in norm(text)] == []
    assert extractor.last_note is None  # the skip rules themselves keep it, no guard needed
    assert all(tag != "article" for tag, _ in marked(html))


def test_author_boxes_inside_the_post_still_go():
    html = ("<html><body><article class='post author-jane'><p>" + "Body text of the post, a real sentence. " * 8
            + "</p><div class='author-box'><p>Jane writes about gardens and has three cats.</p></div>"
            "<div class='entry-author'>Jane</div></article></body></html>")
    assert marked(html) == [("div", "author-box"), ("div", "entry-author")]
    assert "three cats" not in Extractor(ExtractionConfig(guard=False))(html)


@pytest.mark.parametrize("wrapper", [
    '<div class="l-footer-layout">{}</div>',  # a layout grid named after its footer
    '<main class="teaser-grid">{}</main>',  # <main> is never skipped
    '<section class="more-stories-layout"><div class="byline-grid">{}</div></section>',
    '<div id="content-footer-wrap">{}</div>',
])
def test_a_real_article_in_keyword_named_containers_stays(wrapper):
    name = "twincities-wild-parise.html.gz"
    html, truth = page(name), TRUTH[name]["articleBody"]
    body = re.search(r"<body[^>]*>(.*)</body>", html, re.DOTALL)
    wrapped = html[:body.start(1)] + wrapper.format(body.group(1)) + html[body.end(1):]
    old = ["header:not(:has(p))", "h1", "[class*=title]:not(:has(p))", "[class*=caption]", "[class*=author i]",
           "[class*=byline]", "[class*=footer]", "[id*=footer]", "[class*=more-]", "[class*=teaser i]"]
    if not wrapper.startswith("<main"):  # substring selectors drop the container and the article with it
        assert bow_f1(extract_plain_text(HTMLTree.parse(wrapped), skip_elements=old, **OPTS), truth) < 0.2
    assert bow_f1(Extractor(ExtractionConfig(guard=False, cascade_bad_share=1.0))(wrapped), truth) > 0.9


def test_an_element_holding_most_of_the_text_is_never_skipped():
    para = "<p>" + "A sentence of the article that carries the page. " * 20 + "</p>"
    html = f"<html><body><div class='page-footer-wrap'>{para}</div><div class='footer'>Imprint</div></body></html>"
    assert marked(html) == [("div", "footer")]
    assert marked(html.replace("page-footer-wrap", "page")) == [("div", "footer")]
    small = ("<html><body><p>" + "Text. " * 30 + "</p><div class='footer'><p>" + "Links. " * 5
             + "</p></div></body></html>")
    assert marked(small) == [("div", "footer")]
