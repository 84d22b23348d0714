"""Content: the bank, the wording of every locale and the templates, loaded and checked once."""

from .loader import LOCALES, PRIMARY_LOCALE, Content, ContentError, Problem, load_content

__all__ = ["LOCALES", "PRIMARY_LOCALE", "Content", "ContentError", "Problem", "load_content"]
