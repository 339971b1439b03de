"""The rule layer's model-free quality rules: text a program can tell is degenerate, with no model.

Four rules, each a function of one dialogue and the run's `QualitySettings` (`quality_rules` binds
them), each returning why the dialogue fails, or None:

- `degenerate_repetition`: a user or assistant message (its content or thought) made mostly of
  repeated lines or n-grams, measured as Gopher's repetition filter measures a document (Rae et al.
  2021, "Scaling Language Models: Methods, Analysis & Insights from Training Gopher", table A1; the
  thresholds are the defaults of datatrove's `GopherRepetitionFilter`,
  `src/datatrove/pipeline/filters/gopher_repetition_filter.py`): the share of characters in lines
  that repeat an earlier line (> 0.20), in the most frequent 2-, 3- and 4-gram (> 0.20, 0.18, 0.16),
  and in repeated occurrences of 5- to 10-grams (> 0.15, 0.14, 0.13, 0.12, 0.11, 0.10). Characters
  are those of the words (runs of letters and digits), so punctuation does not dilute a run of
  "00.00.00"; a most frequent n-gram counts only when it occurs twice or more; the paragraph
  measures and the share of duplicate lines by count are left out (a message is a paragraph or a
  few lines). A message of fewer than `repetition_min_words` words is not measured: Gopher keeps
  documents of 50 words or more, and a short message's one repeated phrase is a large share of it.
- `echo`: an assistant answer or question that repeats a user message of its request (the request,
  or a reply to a clarifying question), or a user's reply that repeats the assistant's question or
  its own request, with a word-sequence similarity (`difflib`'s ratio over lower-cased words) of at
  least `echo_threshold`; messages of fewer than `echo_min_words` words are left alone.
- `content_free_request`: the first request is empty, or, where every offered function needs an
  argument, it has no word beyond the functions' own names and common words (`COMMON_WORDS`):
  nothing a function could act on ("Search Records," for `searchRecords(query)`). Follow-ups are not
  checked: they may refer to what came before ("the same for the next one").
- `ignored_tool_results`: a final answer that shares no word or number with any successful tool
  result of its request (the results' values and field names), where at least one result held a
  usable value (a string with a word, or a number other than 0). An error result does not count:
  an answer may explain a failure in its own words.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from difflib import SequenceMatcher
from functools import partial
from typing import Annotated, Any

from pydantic import BaseModel, Field

from schemas.dialog import Dialog, Message, RejectionRule, request_spans
from schemas.option import Option
from tasks.offered import offered_functions

QUOTED = 60
"""Characters of a message quoted in a reason, at most."""
_WORD = re.compile(r"[^\W_]+")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
FUNCTION_WORDS = frozenset(
    _WORD.findall(
        """a an the and or but of to in on at for from by with about as into than then so if is are was
    were be been being am do does did done have has had i me my we our you your it its this that these
    those there here what which who whom whose when where why how all any some each every no not
    only just also very more most much many can could would should will shall may might must"""
    )
)
"""Words that name nothing: articles, pronouns, auxiliaries, prepositions."""
COMMON_WORDS = FUNCTION_WORDS | frozenset(
    _WORD.findall(
        """please thanks thank hi hello hey help want need like let lets get find search show give tell
    list look up fetch return call use make run see know check records record data info information
    result results item items thing things something anything stuff one"""
    )
)
"""Words of a request that name nothing a function could act on: the function words, politeness,
and the generic verbs and nouns of a request ("please find the records")."""


class QualitySettings(BaseModel):
    """The thresholds of the rule layer's model-free quality rules (`tasks/quality_rules.py`)."""

    repetition_min_words: Annotated[int, Option(metavar="N")] = Field(
        default=50,
        ge=1,
        description="Messages of fewer words are too short for the repetition measures (Gopher keeps "
        "documents of 50 words or more).",
    )
    repetition_line_chars: Annotated[float, Option(metavar="F")] = Field(
        default=0.2,
        gt=0,
        le=1,
        description="A message is degenerate when more than this share of its characters is in lines "
        "that repeat an earlier line (Gopher's duplicate line character fraction).",
    )
    repetition_top_ngrams: Annotated[dict[int, float], Option(metavar="N=F,...")] = Field(
        default={2: 0.2, 3: 0.18, 4: 0.16},
        description="For each n, a message is degenerate when its most frequent n-gram (occurring "
        "twice or more) holds more than this share of its characters (Gopher's top n-gram fractions); the "
        "pairs given replace these.",
    )
    repetition_duplicate_ngrams: Annotated[dict[int, float], Option(metavar="N=F,...")] = Field(
        default={5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
        description="For each n, a message is degenerate when more than this share of its characters "
        "is in n-grams that repeat an earlier one (Gopher's duplicate n-gram fractions); the pairs given "
        "replace these.",
    )
    echo_threshold: Annotated[float, Option(metavar="F")] = Field(
        default=0.8,
        gt=0,
        le=1,
        description="An answer (or a user's reply) this similar to the message it answers, word by word "
        "(difflib's ratio), echoes it.",
    )
    echo_min_words: Annotated[int, Option(metavar="N")] = Field(
        default=3,
        ge=1,
        description="Messages of fewer words are not checked for echo.",
    )


def words(text: str) -> list[str]:
    """The lower-cased words (runs of letters and digits) of `text`."""
    return [w.lower() for w in _WORD.findall(text)]


def quoted(text: str) -> str:
    """`text` quoted in a reason, cut at `QUOTED` characters."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= QUOTED else flat[: QUOTED - 1] + "…")


def _role(message: Message) -> str:
    if message.role == "user":
        return "user's reply" if message.clarification else "user's request"
    return "assistant's question" if message.clarification else "assistant's answer"


# -- degenerate repetition ----------------------------------------------------------------------------


def _chars(tokens: Sequence[str]) -> int:
    return sum(map(len, tokens))


def duplicate_line_chars(text: str) -> float:
    """The share of the characters of `text`'s words that are in lines repeating an earlier line."""
    seen: set[str] = set()
    repeated = 0
    for line in text.splitlines():
        key = " ".join(words(line))
        if key and key in seen:
            repeated += _chars(words(line))
        seen.add(key)
    return repeated / max(1, _chars(words(text)))


def top_ngram_chars(tokens: Sequence[str], n: int) -> float:
    """The share of the characters of `tokens` in the occurrences of the most frequent n-gram (0 when
    none occurs twice)."""
    counts = Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    if not counts:
        return 0.0
    gram, count = counts.most_common(1)[0]
    return _chars(gram) * count / max(1, _chars(tokens)) if count > 1 else 0.0


def duplicate_ngram_chars(tokens: Sequence[str], n: int) -> float:
    """The share of the characters of `tokens` in occurrences of n-grams seen earlier in them (each
    word counted once)."""
    seen: set[tuple[str, ...]] = set()
    covered = [False] * len(tokens)
    for i in range(len(tokens) - n + 1):
        gram = tuple(tokens[i : i + n])
        if gram in seen:
            covered[i : i + n] = [True] * n
        seen.add(gram)
    return sum(len(t) for t, hit in zip(tokens, covered, strict=True) if hit) / max(1, _chars(tokens))


def repetition(text: str, settings: QualitySettings) -> str | None:
    """The first of Gopher's repetition measures over its threshold in `text`, as words (None when
    none is, or `text` is too short to judge)."""
    tokens = words(text)
    if len(tokens) < settings.repetition_min_words:
        return None
    share = duplicate_line_chars(text)
    if share > settings.repetition_line_chars:
        limit = settings.repetition_line_chars
        return f"{share:.0%} of its characters in repeated lines (at most {limit:.0%})"
    for n, limit in sorted(settings.repetition_top_ngrams.items()):
        share = top_ngram_chars(tokens, n)
        if share > limit:
            return f"{share:.0%} of its characters in its most frequent {n}-gram (at most {limit:.0%})"
    for n, limit in sorted(settings.repetition_duplicate_ngrams.items()):
        share = duplicate_ngram_chars(tokens, n)
        if share > limit:
            return f"{share:.0%} of its characters in repeated {n}-grams (at most {limit:.0%})"
    return None


def degenerate_repetition(dialog: Dialog, settings: QualitySettings) -> str | None:
    """A user or assistant message (content or thought) made mostly of repeated lines or n-grams."""
    for number, message in enumerate(dialog.messages, 1):
        if message.role == "tool":
            continue
        for part, text in (("", message.content), (" thought", message.thought)):
            found = repetition(text, settings)
            if found:
                return f"message {number}, the {_role(message)}{part} {quoted(text)}, has {found}"
    return None


# -- echo -----------------------------------------------------------------------------------------------


def similarity(a: str, b: str) -> float:
    """How alike two texts are, word by word: difflib's ratio over their lower-cased words."""
    return SequenceMatcher(None, words(a), words(b), autojunk=False).ratio()


def _echo_pairs(messages: Sequence[Message]) -> Iterator[tuple[Message, Message]]:
    """(message, what it must not repeat): an assistant's answer or question and each user message of
    its request before it; a user's reply and the assistant's question before it and its own request."""
    for start, end in request_spans(messages):
        users = [messages[start]]
        for index in range(start + 1, end):
            message = messages[index]
            if message.role == "assistant" and not message.tool_calls:
                yield from ((message, user) for user in users)
            elif message.role == "user":
                asked = [m for m in messages[start:index] if m.role == "assistant" and m.clarification]
                yield from ((message, earlier) for earlier in [*asked[-1:], messages[start]])
                users.append(message)


def echo(dialog: Dialog, settings: QualitySettings) -> str | None:
    """An assistant answer repeating the user's request or reply, or a user reply repeating the
    assistant's question or its own request."""
    for message, earlier in _echo_pairs(dialog.messages):
        if len(words(message.content)) < settings.echo_min_words:
            continue
        alike = similarity(message.content, earlier.content)
        if alike >= settings.echo_threshold:
            return (
                f"the {_role(message)} {quoted(message.content)} repeats {alike:.0%} of the {_role(earlier)} "
                f"{quoted(earlier.content)} (an echo from {settings.echo_threshold:.0%})"
            )
    return None


# -- content-free request ---------------------------------------------------------------------------------


def _needs(function: dict[str, Any]) -> bool:
    """Whether a function (OpenAI form) requires an argument."""
    parameters = function.get("parameters")
    return isinstance(parameters, dict) and bool(parameters.get("required"))


def name_words(name: str) -> set[str]:
    """The words of an identifier: `searchRecords` -> search, records; `get_user_id` -> get, user, id."""
    return {w.lower() for part in re.split(r"[\W_]+", name) for w in _CAMEL.findall(part)}


def content_free_request(dialog: Dialog, settings: QualitySettings) -> str | None:
    """The first request is empty, or names nothing beyond the functions' names and common words:
    where every offered function needs an argument, or in a `non_tool` dialogue, whose request should
    be something to answer without the tool, not a function's name ("Search Records,")."""
    del settings  # no threshold: the rule is the definition above
    request = next((m.content for m in dialog.messages if m.role == "user"), "")
    said = words(request)
    if not said:
        return f"the request {quoted(request)} has no word"
    functions = offered_functions(dialog.tools)
    if not functions:
        return None
    named = set().union(*map(name_words, functions))
    if any(w not in COMMON_WORDS and w not in named and (len(w) > 1 or w.isdigit()) for w in said):
        return None
    if dialog.dialog_type == "non_tool":
        if not named & set(said):
            return None  # small talk: common words only
    elif not all(map(_needs, functions.values())):
        return None
    offered = ", ".join(functions)
    return (
        f"the request {quoted(request)} names nothing the functions ({offered}) could act on: each of its "
        "words is a function's name or a common word"
    )


# -- ignored tool results ---------------------------------------------------------------------------------


def _scalars(value: Any) -> Iterator[tuple[str | None, Any]]:
    """(field name, value) of each scalar in a JSON value, depth first."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key), None
            yield from _scalars(item)
    elif isinstance(value, list):
        for item in value:
            yield from _scalars(item)
    else:
        yield None, value


def _usable(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return value != 0
    return isinstance(value, str) and bool(words(value))


def result_words(body: str) -> tuple[set[str], bool]:
    """The words of a tool result (its values' and its field names'), and whether it holds a usable
    value (a string with a word, a number other than 0)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = body
    found: set[str] = set()
    usable = False
    for key, value in _scalars(parsed):
        if key is not None:
            found |= name_words(key) | set(words(key))
        elif _usable(value):
            usable = True
            found |= set(words(str(value)))
    return found - FUNCTION_WORDS, usable


def ignored_tool_results(dialog: Dialog, settings: QualitySettings) -> str | None:
    """A final answer that shares no word or number with any successful result of its request."""
    del settings  # no threshold: one shared word is enough
    messages = dialog.messages
    for number, (start, end) in enumerate(request_spans(messages), 1):
        part = messages[start:end]
        answers = [m for m in part if m.role == "assistant" and not m.tool_calls and not m.clarification]
        results = [m for m in part if m.role == "tool" and (m.status_code or 200) < 400]
        if not answers or not results:
            continue
        read = [result_words(m.content) for m in results]
        if not any(usable for _, usable in read):
            continue
        said = set(words(answers[-1].content))
        if said & set().union(*(found for found, _ in read)):
            continue
        which = f"to request {number} " if len(request_spans(messages)) > 1 else ""
        functions = ", ".join(dict.fromkeys(m.name for m in results))
        return (
            f"the final answer {which}{quoted(answers[-1].content)} names no value or field of the "
            f"{len(results)} result(s) it had ({functions})"
        )
    return None


QUALITY_RULES: list[tuple[RejectionRule, Callable[[Dialog, QualitySettings], str | None]]] = [
    ("content_free_request", content_free_request),
    ("degenerate_repetition", degenerate_repetition),
    ("echo", echo),
    ("ignored_tool_results", ignored_tool_results),
]
"""The quality rules, in the order a rejection names the first failed (after the other rules)."""


def quality_rules(settings: QualitySettings) -> list[tuple[RejectionRule, Callable[[Dialog], str | None]]]:
    """The quality rules with `settings`' thresholds, as rules of the rule layer."""
    return [(name, partial(rule, settings=settings)) for name, rule in QUALITY_RULES]
