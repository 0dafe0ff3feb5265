"""The shape of the web layer: a handler parses the input, calls a use case and renders a template.

No route handler grows over ``MAX_LINES`` lines (its ``def`` to its last line), and the modules with
handlers take the request context by dependency injection (``user: User``, ``now: Now``, ``ctx: Context``;
see app/web/runtime.py) instead of fetching it by hand.
"""

from __future__ import annotations

import ast
from pathlib import Path

WEB = Path(__file__).resolve().parent.parent / "app" / "web"
MAX_LINES = 25
ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete", "head", "route"}
FETCHED_BY_HAND = {"runtime", "current_user", "current_session", "actor_of"}

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
