"""A tokenizer and recursive-descent parser for the SOQL subset the emulator supports.

SELECT fields | COUNT() | COUNT(field) [alias]
FROM object [alias]
[WHERE condition]  -- = != <> < > <= >= [NOT] IN (...) LIKE, AND / OR / NOT, parentheses
[ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]

As in Salesforce, AND and OR may not be mixed at one level without parentheses. The parser
only checks syntax; names and types are checked against the schema by the compiler.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from emulators.salesforce.errors import SfError, malformed_query

KEYWORDS = frozenset(
    "SELECT FROM WHERE ORDER BY LIMIT OFFSET AND OR NOT IN LIKE NULL TRUE FALSE ASC DESC "
    "NULLS FIRST LAST GROUP HAVING WITH USING INCLUDES EXCLUDES FOR TYPEOF".split()
)
DATE_FUNCTIONS = frozenset(
    "TODAY YESTERDAY TOMORROW LAST_WEEK THIS_WEEK NEXT_WEEK LAST_MONTH THIS_MONTH NEXT_MONTH "
    "LAST_90_DAYS NEXT_90_DAYS THIS_YEAR LAST_YEAR NEXT_YEAR".split()
)
N_DATE_FUNCTIONS = frozenset({"LAST_N_DAYS", "NEXT_N_DAYS"})
_TOKEN_RE = re.compile(
    r"""(?P<ws>\s+)
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2})
    |(?P<number>\d+(?:\.\d+)?|\.\d+)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op><=|>=|!=|<>|=|<|>)
    |(?P<punct>[(),.:\-+])""",
    re.X,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass
class Token:
    kind: str  # ident, string, number, date, datetime, op, punct, eof
    text: str
    value: Any
    pos: int

    def is_kw(self, *words: str) -> bool:
        return self.kind == "ident" and self.text.upper() in words


@dataclass
class FieldRef:
    parts: list[str]
    pos: int

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass
class Literal:
    kind: str  # string, number, null, boolean, date, datetime, datefn
    value: Any
    pos: int
    text: str = ""


@dataclass
class Count:
    field: FieldRef | None
    alias: str | None
    pos: int


@dataclass
class Compare:
    field: FieldRef
    op: str  # = != < > <= >= LIKE
    value: Literal


@dataclass
class InList:
    field: FieldRef
    negate: bool
    values: list[Literal]


@dataclass
class BoolOp:
    op: str  # AND / OR
    items: list[Any]


@dataclass
class Not:
    item: Any


@dataclass
class OrderItem:
    field: FieldRef
    descending: bool = False
    nulls_first: bool | None = None


@dataclass
class Query:
    items: list[FieldRef | Count]
    sobject: str
    sobject_pos: int
    alias: str | None = None
    where: Any = None
    order: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    text: str = ""


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos] == "'":
            value, end = _string(text, pos)
            tokens.append(Token("string", text[pos:end], value, pos))
            pos = end
            continue
        match = _TOKEN_RE.match(text, pos)
        if not match:
            raise malformed_query(f"unexpected token: '{text[pos]}'")
        kind = match.lastgroup or ""
        if kind != "ws":
            raw = match.group()
            value: Any = raw
            if kind == "number":
                value = float(raw) if "." in raw else int(raw)
            tokens.append(Token(kind, raw, value, pos))
        pos = match.end()
    tokens.append(Token("eof", "<EOF>", None, len(text)))
    return tokens


# Marks a \\% or \\_ of a string literal, so LIKE can tell it from a literal backslash.
ESCAPED = "\x00"


def _string(text: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == "'":
            return "".join(out), pos + 1
        if char == "\\":
            nxt = text[pos + 1 : pos + 2]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            elif nxt in ("%", "_"):
                out.append(ESCAPED + nxt)  # kept escaped: only LIKE gives them meaning
            elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[pos + 2 : pos + 6]):
                out.append(chr(int(text[pos + 2 : pos + 6], 16)))
                pos += 4
            else:
                raise malformed_query(
                    "Invalid string literal '" + text[start : pos + 2] + "'. Illegal character "
                    "sequence '\\" + nxt + "' in string literal."
                )
            pos += 2
            continue
        out.append(char)
        pos += 1
    raise malformed_query("unexpected token: '" + text[start:] + "'")


class Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    # -- token helpers ---------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.peek()
        self.index += 1
        return token

    def unexpected(self, token: Token | None = None) -> SfError:
        token = token or self.peek()
        return malformed_query(f"unexpected token: {token.text}")

    def expect_kw(self, word: str) -> Token:
        if not self.peek().is_kw(word):
            raise self.unexpected()
        return self.advance()

    def expect_punct(self, char: str) -> Token:
        token = self.peek()
        if token.kind != "punct" or token.text != char:
            raise self.unexpected()
        return self.advance()

    def at_punct(self, char: str) -> bool:
        token = self.peek()
        return token.kind == "punct" and token.text == char

    def identifier(self) -> Token:
        token = self.peek()
        if token.kind != "ident" or token.text.upper() in KEYWORDS:
            raise self.unexpected()
        return self.advance()

    def not_supported(self, what: str) -> SfError:
        return malformed_query(f"Not supported by the Salesforce emulator: {what}")

    # -- grammar ---------------------------------------------------------------------------

    def parse(self) -> Query:
        self.expect_kw("SELECT")
        items = self.select_list()
        self.expect_kw("FROM")
        target = self.identifier()
        query = Query(items, target.text, target.pos, text=self.text)
        if self.peek().kind == "ident" and self.peek().text.upper() not in KEYWORDS:
            query.alias = self.advance().text
        if self.peek().is_kw("WHERE"):
            self.advance()
            query.where = self.condition()
        if self.peek().is_kw("WITH", "GROUP", "HAVING", "FOR", "USING"):
            raise self.not_supported(self.peek().text.upper() + " clauses")
        if self.peek().is_kw("ORDER"):
            self.advance()
            self.expect_kw("BY")
            query.order = self.order_list()
        if self.peek().is_kw("LIMIT"):
            self.advance()
            query.limit = self.integer()
        if self.peek().is_kw("OFFSET"):
            self.advance()
            query.offset = self.integer()
        if self.peek().kind != "eof":
            raise self.unexpected()
        return query

    def integer(self) -> int:
        token = self.peek()
        if token.kind != "number" or not isinstance(token.value, int):
            raise self.unexpected()
        self.advance()
        return token.value

    def select_list(self) -> list[FieldRef | Count]:
        items = [self.select_item()]
        while self.at_punct(","):
            self.advance()
            items.append(self.select_item())
        return items

    def select_item(self) -> FieldRef | Count:
        token = self.peek()
        if token.kind == "punct" and token.text == "(":
            raise self.not_supported("relationship subqueries")
        if token.is_kw("TYPEOF"):
            raise self.not_supported("TYPEOF")
        if token.kind == "ident" and self.peek(1).kind == "punct" and self.peek(1).text == "(":
            return self.aggregate()
        return self.field_path()

    def aggregate(self) -> Count:
        name = self.advance()
        if name.text.upper() != "COUNT":
            raise self.not_supported(f"the {name.text.upper()}() function")
        self.expect_punct("(")
        target = None if self.at_punct(")") else self.field_path()
        self.expect_punct(")")
        alias = None
        if self.peek().kind == "ident" and self.peek().text.upper() not in KEYWORDS:
            alias = self.advance().text
        return Count(target, alias, name.pos)

    def field_path(self) -> FieldRef:
        first = self.identifier()
        parts = [first.text]
        while self.at_punct("."):
            self.advance()
            parts.append(self.identifier().text)
        return FieldRef(parts, first.pos)

    def order_list(self) -> list[OrderItem]:
        items = [self.order_item()]
        while self.at_punct(","):
            self.advance()
            items.append(self.order_item())
        return items

    def order_item(self) -> OrderItem:
        item = OrderItem(self.field_path())
        if self.peek().is_kw("ASC", "DESC"):
            item.descending = self.advance().text.upper() == "DESC"
        if self.peek().is_kw("NULLS"):
            self.advance()
            if not self.peek().is_kw("FIRST", "LAST"):
                raise self.unexpected()
            item.nulls_first = self.advance().text.upper() == "FIRST"
        return item

    def condition(self) -> Any:
        items = [self.unary()]
        operator = None
        while self.peek().is_kw("AND", "OR"):
            word = self.peek().text.upper()
            if operator and word != operator:
                raise self.unexpected()  # SOQL demands parentheses when mixing AND and OR
            operator = word
            self.advance()
            items.append(self.unary())
        return items[0] if len(items) == 1 else BoolOp(operator or "AND", items)

    def unary(self) -> Any:
        if self.peek().is_kw("NOT"):
            self.advance()
            return Not(self.unary())
        if self.at_punct("("):
            self.advance()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> Any:
        target = self.field_path()
        token = self.peek()
        if token.kind == "op":
            self.advance()
            op = "!=" if token.text == "<>" else token.text
            return Compare(target, op, self.literal())
        if token.is_kw("LIKE"):
            self.advance()
            return Compare(target, "LIKE", self.literal(like=True))
        if token.is_kw("IN"):
            self.advance()
            return InList(target, False, self.literal_list())
        if token.is_kw("NOT") and self.peek(1).is_kw("IN"):
            self.advance()
            self.advance()
            return InList(target, True, self.literal_list())
        if token.is_kw("INCLUDES", "EXCLUDES"):
            raise self.not_supported("INCLUDES/EXCLUDES")
        raise self.unexpected()

    def literal_list(self) -> list[Literal]:
        self.expect_punct("(")
        if self.peek().is_kw("SELECT"):
            raise self.not_supported("semi-join subqueries")
        values = [self.literal()]
        while self.at_punct(","):
            self.advance()
            values.append(self.literal())
        self.expect_punct(")")
        return values

    def literal(self, like: bool = False) -> Literal:
        token = self.advance()
        if token.kind == "string" and not like:  # \% and \_ mean themselves outside LIKE
            return Literal("string", token.value.replace(ESCAPED, "\\"), token.pos, token.text)
        if token.kind in ("string", "date", "datetime", "number"):
            return Literal(token.kind, token.value, token.pos, token.text)
        if token.kind == "punct" and token.text in "-+" and self.peek().kind == "number":
            number = self.advance()
            sign = -1 if token.text == "-" else 1
            return Literal("number", sign * number.value, token.pos, token.text + number.text)
        if token.is_kw("NULL"):
            return Literal("null", None, token.pos, token.text)
        if token.is_kw("TRUE", "FALSE"):
            return Literal("boolean", token.text.upper() == "TRUE", token.pos, token.text)
        if token.kind == "ident":
            return self.date_function(token)
        raise self.unexpected(token)

    def date_function(self, token: Token) -> Literal:
        name = token.text.upper()
        if name in DATE_FUNCTIONS:
            return Literal("datefn", (name, 0), token.pos, token.text)
        if name in N_DATE_FUNCTIONS:
            self.expect_punct(":")
            amount = self.integer()
            return Literal("datefn", (name, amount), token.pos, f"{token.text}:{amount}")
        if re.fullmatch(r"(LAST|NEXT|N)_N_\w+", name):
            raise self.not_supported(f"the date literal {name}")
        raise self.unexpected(token)


def parse(text: str) -> Query:
    return Parser(text).parse()


def position(text: str, pos: int) -> tuple[int, int]:
    """1-based row and column of a character offset, as Salesforce's messages report them."""
    before = text[:pos]
    row = before.count("\n") + 1
    return row, pos - (before.rfind("\n") + 1) + 1


def located(text: str, pos: int, message: str) -> str:
    """Salesforce's positional error message: the query, a caret, Row/Column, the message."""
    row, column = position(text, pos)
    line = text.split("\n")[row - 1]
    return f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{message}"
