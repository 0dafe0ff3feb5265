"""htmx attribute inheritance in the templates: an element that sets ``hx-target`` also sets its own
``hx-swap`` when an element around it (in the same file, or a file that includes it) sets one.
Otherwise it silently inherits the outer swap: "New appointment" inherited the calendar's
``outerHTML`` and replaced the dialog's body instead of filling it."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
INCLUDE = re.compile(r"""{%-?\s*include\s+["']([^"']+)["']""")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Inheritance(HTMLParser):
    """Walks one template; ``outer`` is the hx-swap in force where the file is included."""

    def __init__(self, name: str, outer: str | None, found: list[str], seen: tuple[str, ...]) -> None:
        super().__init__(convert_charrefs=True)
        self.name, self.found, self.seen = name, found, seen
        self.stack: list[tuple[str, str | None]] = [("", outer)]

    @property
    def swap(self) -> str | None:
        return self.stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if "hx-target" in names and "hx-swap" not in names and self.swap:
            line, _ = self.getpos()
            self.found.append(f"{self.name}:{line} <{tag}> inherits hx-swap={self.swap!r}")
        if tag not in VOID:
            self.stack.append((tag, names.get("hx-swap", self.swap)))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth][0] == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        for included in INCLUDE.findall(data):
            if self.swap and included not in self.seen and (TEMPLATES / included).exists():
                check(included, self.swap, self.found, self.seen)


def check(name: str, outer: str | None, found: list[str], seen: tuple[str, ...] = ()) -> None:
    parser = _Inheritance(name, outer, found, (*seen, name))
    parser.feed((TEMPLATES / name).read_text())
    parser.close()


def test_no_hx_target_inherits_a_swap_it_did_not_ask_for():
    found: list[str] = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        check(path.relative_to(TEMPLATES).as_posix(), None, found)
    assert not found, "set hx-swap next to these hx-targets:\n" + "\n".join(found)


def test_the_check_finds_the_new_appointment_case(tmp_path, monkeypatch):
    """The rule itself: the calendar's button as it was on main is reported."""
    (tmp_path / "page.html").write_text(
        '<section hx-swap="outerHTML"><div><a hx-get="/x" hx-target="#dialog-body">New</a></div>'
        '{% include "part.html" %}</section>'
        '<a hx-get="/y" hx-target="#dialog-body">Fine: nothing to inherit</a>'
    )
    (tmp_path / "part.html").write_text('<a hx-get="/z" hx-target="#panel">Book next</a>')
    monkeypatch.setattr(f"{__name__}.TEMPLATES", tmp_path)
    found: list[str] = []
    check("page.html", None, found)
    assert found == [
        "page.html:1 <a> inherits hx-swap='outerHTML'",
        "part.html:1 <a> inherits hx-swap='outerHTML'",
    ]
