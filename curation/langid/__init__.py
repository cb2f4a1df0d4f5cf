"""Language identification: fastText lid.176 with a lingua second opinion over the candidates, per document."""

from curation.core.exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "LangIdConfig": "identify",
    "LanguageIdentifier": "identify",
    "default_fasttext_model": "identify",
    "language_table": "identify",
})
