"""The shape of the web layer: a handler parses the input, calls a use case and renders a template.

No route handler grows over ``MAX_LINES`` lines (its ``def`` to its last line), and the modules with
handlers take the request context by dependency injection (``user: User``, ``now: Now``, ``ctx: Context``;
see app/web/runtime.py) instead of fetching it by hand. No comment in the code cites a tracker number
("issue 20", "#9"): it says what it means, or points to a rule of docs/rules.md ("R4").
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "app" / "web"
MAX_LINES = 25
ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete", "head", "route"}
FETCHED_BY_HAND = {"runtime", "current_user", "current_session", "actor_of"}
TRACKER_NUMBER = re.compile(r"(\w+ )?(\bissues? #?\d+|(?<![&\w])#\d+\b)", re.IGNORECASE)
UPSTREAM = {"uvicorn", "litestar", "piccolo", "stripe", "redis", "arq", "playwright"}
"""Another project's tracker, cited by name ("uvicorn issue #3149"): a reader can look that one up."""

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def _decorator_name(decorator: ast.expr) -> str:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def route_handlers(tree: ast.AST) -> list[FunctionNode]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, FunctionNode)
        and any(_decorator_name(d) in ROUTE_DECORATORS for d in node.decorator_list)
    ]


def handler_lengths(source: str) -> dict[str, int]:
    """Each route handler's name and its length in lines, ``def`` line included, decorators not."""
    return {node.name: node.end_lineno - node.lineno + 1 for node in route_handlers(ast.parse(source))}


def context_fetched_by_hand(source: str) -> list[str]:
    """Calls that fetch the request context by hand: ``runtime(request)``, ``current_user(...)``,
    ``actor_of(...)``, ``current_session(...)`` and ``….clock.now()``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        if isinstance(function, ast.Name) and function.id in FETCHED_BY_HAND:
            found.append(f"line {node.lineno}: {function.id}()")
        elif (
            isinstance(function, ast.Attribute)
            and function.attr == "now"
            and isinstance(function.value, ast.Attribute)
            and function.value.attr == "clock"
        ):
            found.append(f"line {node.lineno}: clock.now()")
    return found


def web_modules() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(WEB.glob("*.py"))}


def test_no_web_handler_is_longer_than_the_limit():
    too_long = [
        f"{module}: {name} is {lines} lines"
        for module, source in web_modules().items()
        for name, lines in handler_lengths(source).items()
        if lines > MAX_LINES
    ]
    assert not too_long, f"Move what is not HTTP into a service or a helper (limit {MAX_LINES}): {too_long}"


def test_modules_with_handlers_take_the_request_context_by_injection():
    by_hand = {
        module: found
        for module, source in web_modules().items()
        if handler_lengths(source) and (found := context_fetched_by_hand(source))
    }
    assert not by_hand, f"Take user, now, ctx or rt as handler parameters instead: {by_hand}"


def tracker_numbers(source: str) -> list[str]:
    """Lines that cite a tracker number instead of saying what they mean."""
    return [
        f"line {number}: {line.strip()}"
        for number, line in enumerate(source.splitlines(), start=1)
        if any((m.group(1) or "").strip().lower() not in UPSTREAM for m in TRACKER_NUMBER.finditer(line))
    ]


def test_code_comments_cite_no_tracker_numbers():
    code = [
        path
        for folder in ("app", "workers", "bench")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "piccolo_migrations" not in path.parts
    ]
    cited = {
        str(path.relative_to(ROOT)): found for path in code if (found := tracker_numbers(path.read_text()))
    }
    assert not cited, f"Say what the number stood for, or name the rule in docs/rules.md: {cited}"


SAMPLE = """
class Things(Controller):
    @get("/")
    async def short(self, user: User) -> str:
        return user.name

    @post("/long")
    async def long(self, request: Request) -> str:
{body}
        return ""

    async def helper(self) -> None:
{body}

@get("/plain")
async def plain(request: Request) -> str:
    rt = runtime(request)
    return str(rt.clock.now())
"""


def test_the_checks_see_what_they_are_meant_to():
    source = SAMPLE.format(body="\n".join(["        x = 1"] * 30))
    assert handler_lengths(source) == {"short": 2, "long": 32, "plain": 3}
    assert [found.split(": ")[1] for found in context_fetched_by_hand(source)] == ["runtime()", "clock.now()"]
    assert sum(len(handler_lengths(source)) for source in web_modules().values()) > 90
    cites = "# the fee policy (issue 20)\n# see #9\n# R4 in docs/rules.md\n# '&#9;', uvicorn issue #3149\n"
    assert [found.split(": ")[0] for found in tracker_numbers(cites)] == ["line 1", "line 2"]
