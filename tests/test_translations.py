"""The one catalog is complete, and the templates show no text outside it.

No services needed: these read the code, the templates and the .po files.
"""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from jinja2 import Environment, nodes

from campaigns import i18n

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "webapp" / "templates"
PLACEHOLDER = re.compile(r"\{(\w+)\}|%\((\w+)\)s")


def _catalog(language: str):  # type: ignore[no-untyped-def]
    with i18n.po_path(language).open("rb") as f:
        return read_po(f, locale=language)


def _extracted(tmp_path: Path) -> set[str]:
    """The ids ``pybabel extract`` finds in the code and templates today (what bin/i18n would merge)."""
    pot = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run(
        [str(pybabel), "-q", "extract", "-F", "babel.cfg", "--no-location", "-o", str(pot), "."],
        cwd=ROOT,
        check=True,
    )
    with pot.open("rb") as f:
        return {m.id for m in read_po(f) if m.id}


def test_every_text_of_the_code_is_in_both_languages(tmp_path: Path) -> None:
    wanted = _extracted(tmp_path)
    assert len(wanted) > 100
    for language in i18n.LANGUAGES:
        have = {m.id for m in _catalog(language) if m.id}
        assert not wanted - have, f"{language}: not in the catalog (run bin/i18n): {sorted(wanted - have)[:10]}"
        assert not have - wanted, f"{language}: no longer used (run bin/i18n): {sorted(have - wanted)[:10]}"


def test_every_vietnamese_text_is_translated_with_the_same_placeholders() -> None:
    problems = []
    for m in _catalog("vi"):
        if not m.id:
            continue
        if not m.string or m.fuzzy:
            problems.append(f"untranslated or fuzzy: {m.id!r}")
        elif set(PLACEHOLDER.findall(m.id)) != set(PLACEHOLDER.findall(str(m.string))):
            problems.append(f"placeholders differ: {m.id!r} -> {m.string!r}")
    assert not problems, "\n".join(problems[:20])


def test_english_texts_are_their_ids_or_consistent_translations() -> None:
    """English msgstr stays empty (the id is the text) or keeps the id's placeholders."""
    for m in _catalog("en"):
        if m.id and m.string:
            assert set(PLACEHOLDER.findall(m.id)) == set(PLACEHOLDER.findall(str(m.string))), m.id


def test_the_kernel_translates_without_flask() -> None:
    assert (
        i18n.translate("vi", "Your membership tier is now {tier}.", tier="Bạc") == "Hạng thành viên của bạn nay là Bạc."
    )
    assert i18n.translate("en", "Your membership tier is now {tier}.", tier="Silver") == (
        "Your membership tier is now Silver."
    )
    assert i18n.language_of("fr") == "vi" and i18n.language_of("en-US") == "en"


def test_numbers_and_money_in_each_language() -> None:
    assert i18n.money(1_234_567, "vi") == "1.234.567 ₫"
    assert i18n.money(1_234_567, "en") == "₫1,234,567"
    assert i18n.number(1_234_567, "vi") == "1.234.567" and i18n.number(-1200, "en") == "-1,200"


# ---------------------------------------------------------------------------------------------- template literals

# Text that is the same in every language: brand and unit symbols, codes, language names in their own language.
ALLOWED = {"★", "₫", "VND", "Tiếng Việt", "English", "CSV", "JSON", "API", "SMS", "USSD", "ID", "OK", "UTC", "YAML"}
ALLOWED |= {"Ctrl", "Esc", "Tab"}  # keyboard keys
ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        self.texts += [v for k, v in attrs if k in ATTRIBUTES and v]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.texts.append(data)


def literals(source: str) -> list[str]:
    """Visible words of a template that are written in it rather than given by ``_()``/``{% trans %}``."""
    env = Environment(extensions=["jinja2.ext.i18n"])
    tree = env.parse(source)
    # {% trans %} bodies compile to gettext calls, so only literal text is TemplateData; "\x00" marks where an
    # expression stood (a break in the text)
    html = "\x00".join(node.data for node in tree.find_all(nodes.TemplateData))
    parser = _Visible()
    parser.feed(html)
    found = []
    for text in parser.texts:
        for piece in text.split("\x00"):
            piece = piece.strip(" \n\t·:\u2014\u2013-()/|,.;!?#+%&")
            # code, not prose: a rules-document example (YAML) in a placeholder; attribute markup a macro writes
            code = "operator:" in piece or '="' in piece or piece.endswith('"')
            if re.search(r"[^\W\d_]{2,}", piece) and piece not in ALLOWED and not code:
                found.append(piece)
    return found


def _templates() -> list[str]:
    return sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("name", _templates())
def test_no_english_literal_left_in_a_template(name: str) -> None:
    found = literals((TEMPLATES / name).read_text(encoding="utf-8"))
    assert not found, f"{name}: wrap these in _(): {found}"


def test_the_literal_check_finds_a_literal() -> None:
    assert literals('<p title="Hello">{{ _("Balance") }} Points</p><a aria-label="{{ x }}">ok</a>') == [
        "Hello",
        "Points",
        "ok",
    ]
    assert literals("<p>{% trans %}Balance{% endtrans %} ★ {{ v|money }}</p>") == []


def test_no_template_shadows_gettext() -> None:
    """A loop or set variable named ``_`` hides ``_()`` for the rest of its scope (a 500 on the page)."""
    shadow = re.compile(r"{%-?\s*(?:for|set)\s[^%]*?(?<![\w.])_(?![\w(])")
    found = [name for name in _templates() if shadow.search((TEMPLATES / name).read_text(encoding="utf-8"))]
    assert not found
    assert shadow.search("{% for _, code, _ in b.providers %}") and not shadow.search("{% set x = _('a') %}")
