"""Corpus-wide de-duplication: requests that repeat one another, and seed lists that name one API twice.

Why: a corpus that holds the same request twice teaches it twice (its weight in training doubles and
the held-out split can leak it); two tools that are the same API under two names make a 'multiple
tools' dialogue ambiguous, since either could be the right call.

Plain functions, no LLM and no orchestration. Each returns the items to drop as `Duplicate`s, each
naming the item kept in its place. The result depends only on the set of items, never on the order
they arrive in: the kept item of a group is the first by a fixed order (requests: natural order of
their ids; seeds: list order, which is file order). Near-duplicates are found by MinHash LSH
(datasketch) and confirmed by the exact Jaccard of the word sets (`schemas.similarity`), so what is
reported meets `near_duplicate`'s definition; MinHash only chooses which pairs to compare, and passes
over a pair at exactly the threshold with chance about 0.1% (`RECALL_AT_THRESHOLD`, `ESTIMATE_MISS`;
less above it), the same way every time for the same input.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
from datasketch import MinHash, MinHashLSH

from schemas.seed import Seed
from schemas.similarity import jaccard, words

RECALL_AT_THRESHOLD = 0.999
"""The least chance that the LSH offers a pair whose word Jaccard is exactly the threshold as a
candidate (a pair above it is offered more surely). datasketch's own choice of bands balances misses
against false candidates: at 0.8 with 64 permutations (5 bands of 11) it offers only 36% of such
pairs. Here the bands are chosen for recall (`lsh_bands`: 16 bands of 4), and the many false
candidates that brings are thinned by the MinHash estimate before any exact comparison."""

ESTIMATE_MISS = 1e-4
"""The most chance that the MinHash estimate sets aside an LSH candidate whose word Jaccard is the
threshold (`agreement_cutoff`); a miss of the LSH or of the estimate is the same for the same input."""

SEED_DESCRIPTION_THRESHOLD = 0.5
"""Word Jaccard at which two seeds of the same name have the same description (name's words left out)."""

SEED_CONTENT_THRESHOLD = 0.8
"""Word Jaccard at which two seeds of different names have the same name and description."""

SEED_NUM_PERM = 64
"""MinHash permutations for the seeds' name-and-description index."""

SHARED_HOSTS_BY_PATH = frozenset(
    {
        "github.com",
        "gitlab.com",
        "bitbucket.org",
        "rapidapi.com",
        "documenter.getpostman.com",
        "postman.com",
        "sourceforge.net",
    }
)
"""Hosts where many owners publish: the owner is the first meaningful path segment
(github.com/<owner>/...); two seeds there are on the same site only when the owner is the same."""

SHARED_HOSTS_BY_SUBDOMAIN = frozenset(
    {
        "github.io",
        "gitlab.io",
        "herokuapp.com",
        "netlify.app",
        "vercel.app",
        "readthedocs.io",
        "readme.io",
        "docs.apiary.io",
        "apiary.io",
        "onrender.com",
        "pages.dev",
        "web.app",
        "firebaseapp.com",
        "appspot.com",
        "azurewebsites.net",
        "glitch.me",
        "fly.dev",
        "blogspot.com",
    }
)
"""Hosting domains where the owner is the label just before them (<owner>.github.io)."""

_GENERIC_PATH_SEGMENTS = frozenset({"user", "users", "u", "view", "orgs", "org"})
"""Path segments that come before the owner on a path-owned host (rapidapi.com/user/<owner>)."""

_SECOND_LEVEL = frozenset({"ac", "co", "com", "edu", "go", "gob", "gouv", "gov", "govt", "net", "or", "org"})
"""Second-level labels under which a country domain registers names (example.co.uk, example.gov.au)."""

_TRACKING_PARAMETERS = frozenset({"fbclid", "gclid", "ref", "rel"})
"""Query parameters that say where a visitor came from, not which page (with every `utm_*`)."""

_RENAME_SUFFIX = re.compile(r"\s+\(\d+\)$")
_DIGITS = re.compile(r"([0-9]+)")
_TEXT_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Duplicate:
    """An item to drop because it repeats another item, which is kept."""

    item_id: str
    """The dropped item: a dialogue id (requests) or a seed id (seeds)."""
    kept_id: str
    """The item it repeats, kept in its place."""
    similarity: float
    """What the deciding rule measured: word Jaccard for a near-duplicate, 1.0 for an exact match (the
    same normalised text, the same link, the same name on the same site)."""
    reason: str
    """A sentence for a person, naming the kept item and the rule."""


# --------------------------------------------------------------------------- ordering and the LSH


def natural_key(item_id: str) -> tuple[str | int, ...]:
    """How ids are ordered: runs of digits compare as numbers, so 'tool-2' comes before 'tool-10'."""
    parts = _DIGITS.split(item_id)
    return tuple(int(part) if index % 2 else part for index, part in enumerate(parts))


def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) for `num_perm` permutations: the most rows per band (the fewest false
    candidates) with which a pair at `threshold` is a candidate with chance `RECALL_AT_THRESHOLD`,
    or one row per band when none reaches it."""
    for rows in range(num_perm // 2, 0, -1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= RECALL_AT_THRESHOLD:
            return bands, rows
    return num_perm, 1


def agreement_cutoff(threshold: float, num_perm: int) -> int:
    """The fewest MinHash values two sketches must share for their sets to be compared exactly: the
    count a pair at `threshold` (Binomial(num_perm, threshold)) falls below with chance at most
    `ESTIMATE_MISS`."""
    below = 0.0
    for count in range(num_perm + 1):
        below += math.comb(num_perm, count) * threshold**count * (1 - threshold) ** (num_perm - count)
        if below > ESTIMATE_MISS:
            return count
    return num_perm


class _NearIndex:
    """The word sets of the kept items and a MinHash LSH over them: finds the earliest kept set whose
    exact word Jaccard with a new set reaches the threshold.

    An LSH candidate is compared exactly only when its size allows the threshold (Jaccard is at most
    the smaller size over the larger) and its sketch agrees with the new one in at least
    `agreement_cutoff` values, checked for all candidates at once.

    Memory, per kept item: its word set (a word shared by items is stored once), its sketch (4 bytes
    per permutation) and the LSH's band hashes; nothing of a dropped item stays."""

    def __init__(self, threshold: float, num_perm: int) -> None:
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
        if num_perm < 2:
            raise ValueError(f"num_perm must be at least 2, got {num_perm!r}")
        self.threshold = threshold
        self._template = MinHash(num_perm=num_perm, seed=1)
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, params=lsh_bands(threshold, num_perm))
        self._cutoff = agreement_cutoff(threshold, num_perm)
        self._keys: list[int] = []
        self._sets: list[frozenset[str]] = []
        self._sizes = np.zeros(64, dtype=np.int64)
        self._sketches = np.zeros((64, num_perm), dtype=self._template.hashvalues.dtype)
        self._vocabulary: dict[str, str] = {}

    def sketch(self, word_set: set[str]) -> MinHash:
        """The MinHash of a (non-empty) word set."""
        sketch = copy.copy(self._template)  # shares the permutations; copy() would rebuild them
        sketch.hashvalues = self._template.hashvalues.copy()
        sketch.update_batch([word.encode("utf-8") for word in word_set])
        return sketch

    def find(
        self, word_set: set[str], sketch: MinHash, allow: Callable[[int], bool] | None = None
    ) -> tuple[int, float] | None:
        """(key, Jaccard) of the kept set with the smallest key that `allow`s and reaches the threshold."""
        rows = np.fromiter(self._lsh.query(sketch), dtype=np.int64)
        if not rows.size:
            return None
        size, sizes = len(word_set), self._sizes[rows]
        slack = 1e-9  # a size ratio equal to the threshold must pass despite rounding
        possible = (np.minimum(sizes, size) >= self.threshold * np.maximum(sizes, size) - slack) & (
            np.count_nonzero(self._sketches[rows] == sketch.hashvalues, axis=1) >= self._cutoff
        )
        for row in np.sort(rows[possible]).tolist():
            score = jaccard(word_set, self._sets[row])
            if score >= self.threshold and (allow is None or allow(self._keys[row])):
                return self._keys[row], score
        return None

    def add(self, key: int, word_set: set[str], sketch: MinHash) -> None:
        """Index a kept item's word set under `key`; keys must grow in the order items are kept."""
        row = len(self._keys)
        if row == len(self._sizes):
            self._sizes = np.resize(self._sizes, 2 * row)
            self._sketches = np.resize(self._sketches, (2 * row, self._sketches.shape[1]))
        self._keys.append(key)
        self._sets.append(frozenset(self._vocabulary.setdefault(word, word) for word in word_set))
        self._sizes[row] = len(word_set)
        self._sketches[row] = sketch.hashvalues
        self._lsh.insert(row, sketch, check_duplication=False)


class NearDuplicates:
    """Short texts kept so far, by id (names and descriptions of APIs, say): `find` names the earliest
    kept one a new text near-duplicates (word Jaccard at `threshold`, every LSH candidate checked
    exactly), `add` keeps one. The caller decides the order; the same order gives the same answers."""

    def __init__(self, threshold: float, num_perm: int = 64) -> None:
        self._index = _NearIndex(threshold, num_perm)
        self._ids: list[str] = []

    def __len__(self) -> int:
        return len(self._ids)

    def find(self, text: str) -> tuple[str, float] | None:
        """(id, Jaccard) of the earliest kept text `text` near-duplicates, or None."""
        word_set = words(text)
        if not word_set or not self._ids:
            return None
        found = self._index.find(word_set, self._index.sketch(word_set))
        return None if found is None else (self._ids[found[0]], found[1])

    def add(self, item_id: str, text: str) -> None:
        """Keep a text (one with no words can match nothing and is not indexed)."""
        word_set = words(text)
        if word_set:
            self._index.add(len(self._ids), word_set, self._index.sketch(word_set))
            self._ids.append(item_id)


# --------------------------------------------------------------------------- requests


def _exact_key(text: str) -> str:
    """The text with case, spacing and punctuation set aside (any script): its words, in order."""
    return " ".join(_TEXT_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def duplicate_requests(
    items: Iterable[tuple[str, str]], threshold: float = 0.8, num_perm: int = 64
) -> list[Duplicate]:
    """The requests to drop from a corpus: each (dialog_id, request text) that repeats a kept one,
    exactly (the same words in the same order once case, spacing and punctuation are set aside) or
    nearly (`near_duplicate` at `threshold`: word Jaccard, checked exactly on every LSH candidate).

    The kept request of a group is the one with the smallest id in natural order (`natural_key`),
    whatever the input order: items are taken in that order, and each is compared with the requests
    kept so far (the earliest match wins). A text with no words is never a duplicate, nor kept as
    one to match. Returned in the same order; ValueError when an id appears twice.

    Memory: the items are held once to sort them and released as they are taken; what stays is, per
    kept request, its id, a 16-byte digest of its exact form, its word set, its sketch (4 bytes per
    permutation) and its LSH band hashes (`lsh_bands(threshold, num_perm)`).
    """
    index = _NearIndex(threshold, num_perm)
    pending = sorted(items, key=lambda item: (natural_key(item[0]), item[0], item[1]), reverse=True)
    _refuse_repeated_ids(pending)
    exact: dict[bytes, str] = {}
    kept_ids: list[str] = []
    duplicates: list[Duplicate] = []
    while pending:
        item_id, text = pending.pop()
        key = _exact_key(text)
        if not key:
            continue
        digest = hashlib.blake2b(key.encode("utf-8"), digest_size=16).digest()
        if (twin := exact.get(digest)) is not None:
            reason = f"exact duplicate of request {twin} (the same words, case and punctuation aside)"
            duplicates.append(Duplicate(item_id, twin, 1.0, reason))
            continue
        word_set = words(text)
        sketch = index.sketch(word_set) if word_set else None
        found = index.find(word_set, sketch) if sketch is not None else None
        if found is not None:
            kept_id = kept_ids[found[0]]
            reason = f"near-duplicate of request {kept_id} (word Jaccard {found[1]:.2f})"
            duplicates.append(Duplicate(item_id, kept_id, found[1], reason))
            continue
        exact[digest] = item_id
        if sketch is not None:
            index.add(len(kept_ids), word_set, sketch)
        kept_ids.append(item_id)
    return duplicates


def _refuse_repeated_ids(ordered: Sequence[tuple[str, str]]) -> None:
    """ValueError when an id appears twice (equal ids sit side by side once sorted)."""
    for (first, _), (second, _) in itertools.pairwise(ordered):
        if first == second:
            raise ValueError(f"request id {first!r} appears more than once; ids must be unique")


# --------------------------------------------------------------------------- seeds: names and links


def base_name(name: str) -> str:
    """A seed's name without the ' (n)' the reader adds to a repeated name: 'Cat Facts (2)' -> 'Cat Facts'."""
    return _RENAME_SUFFIX.sub("", name.strip())


def _name_key(name: str) -> str:
    """How seed names are compared: the base name, trimmed and case-insensitive."""
    return base_name(name).casefold()


def repeated_names(seeds: Sequence[Seed]) -> list[tuple[str, list[str]]]:
    """Every name the list gives to more than one seed (case-insensitive, the reader's ' (n)' set
    aside), as it is first written, with the ids of its seeds in list order; names in order of first
    appearance. Whether the repeats are the same API is `duplicate_seeds`' question."""
    groups: dict[str, tuple[str, list[str]]] = {}
    for seed in seeds:
        groups.setdefault(_name_key(seed.name), (base_name(seed.name), []))[1].append(seed.seed_id)
    return [(name, ids) for name, ids in groups.values() if len(ids) > 1]


def normalize_link(link: str) -> str:
    """A link in the form two links to one page share: host in lowercase without 'www.' or a default
    port, the path without a trailing slash, the query without tracking parameters (`utm_*`, ref, ...)
    and sorted; scheme and fragment dropped. '' for no link."""
    text = link.strip()
    if not text:
        return ""
    parts = urlsplit(text if "//" in text else f"//{text}")
    host = _host(parts.hostname)
    if not host:
        return ""
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port not in (80, 443):
        host = f"{host}:{port}"
    query = sorted(
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not (name.lower().startswith("utm_") or name.lower() in _TRACKING_PARAMETERS)
    )
    return host + parts.path.rstrip("/") + (f"?{urlencode(query)}" if query else "")


def site(link: str) -> str | None:
    """Who publishes at a link: the registrable domain of its host (its last two labels, three under a
    country's second level such as co.uk), or the owner's part of a shared host (<owner>.github.io,
    github.com/<owner>); None for no link."""
    text = link.strip()
    parts = urlsplit(text if "//" in text else f"//{text}")
    host = _host(parts.hostname)
    if not host:
        return None
    if host in SHARED_HOSTS_BY_PATH:
        segments = [s for s in parts.path.split("/") if s and s.casefold() not in _GENERIC_PATH_SEGMENTS]
        return f"{host}/{segments[0].casefold()}" if segments else host
    for shared in sorted(SHARED_HOSTS_BY_SUBDOMAIN, key=len, reverse=True):  # docs.apiary.io before apiary.io
        if host.endswith(f".{shared}"):
            return f"{host[: -len(shared) - 1].rsplit('.', 1)[-1]}.{shared}"
    if _is_ip(host):
        return host
    labels = host.split(".")
    size = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-size:])


def _host(hostname: str | None) -> str:
    """A lowercase host without 'www.' and a trailing dot ('' for none)."""
    host = (hostname or "").rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _is_ip(host: str) -> bool:
    """Whether a host is an IP address rather than a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- seeds: the same API


@dataclass(frozen=True)
class _Match:
    """A kept seed that a new seed repeats, with the rule's measure and its words for a person."""

    position: int
    similarity: float
    why: str


class _SeedIndex:
    """The kept seeds, indexed three ways: by normalised link, by name, and by the words of name and
    description (MinHash LSH)."""

    def __init__(self, seeds: Sequence[Seed]) -> None:
        self._seeds = seeds
        self._by_link: dict[str, int] = {}
        self._by_name: dict[str, list[int]] = {}
        self._content = _NearIndex(SEED_CONTENT_THRESHOLD, SEED_NUM_PERM)

    def match(self, position: int) -> _Match | None:
        """The earliest kept seed that the seed at `position` repeats, by the first rule that finds one:
        the same link; the same name on the same site or with the same description; or a different
        name with nearly the same name and description."""
        seed = self._seeds[position]
        link = normalize_link(seed.link)
        if link and (kept := self._by_link.get(link)) is not None:
            return _Match(kept, 1.0, self._same_link_words(self._seeds[kept].link, seed.link))
        key = _name_key(seed.name)
        for kept in self._by_name.get(key, []):
            if found := _same_name_match(self._seeds[kept], seed):
                return _Match(kept, *found)
        word_set = _content_words(seed)
        if not word_set:
            return None
        sketch = self._content.sketch(word_set)
        found = self._content.find(word_set, sketch, lambda k: self._other_api_name(self._seeds[k], seed))
        if found is None:
            return None
        return _Match(*found, f"a near-duplicate name and description (word Jaccard {found[1]:.2f})")

    @staticmethod
    def _other_api_name(kept: Seed, seed: Seed) -> bool:
        """Whether two near-duplicate seeds may be one API under two names: their names differ, and
        they are not siblings written from one template, whose descriptions differ in the very words
        that tell their names apart ('Get data for procurements in Hungary' under 'Tenders in
        Hungary', '... in Poland' under 'Tenders in Poland': two APIs)."""
        if _name_key(kept.name) == _name_key(seed.name):
            return False
        told_apart_by = words(base_name(kept.name)) ^ words(base_name(seed.name))
        return not (words(kept.description) ^ words(seed.description)) & told_apart_by

    def add(self, position: int) -> None:
        """Index the seed at `position` as kept."""
        seed = self._seeds[position]
        if link := normalize_link(seed.link):
            self._by_link.setdefault(link, position)
        self._by_name.setdefault(_name_key(seed.name), []).append(position)
        if word_set := _content_words(seed):
            self._content.add(position, word_set, self._content.sketch(word_set))

    @staticmethod
    def _same_link_words(kept_link: str, link: str) -> str:
        """Why two links are the same, in words (as written when they differ)."""
        if kept_link.strip() == link.strip():
            return f"the same link {link.strip()}"
        return (
            f"the same link {normalize_link(link)} (written {kept_link.strip()} and {link.strip()}; "
            "scheme, www., trailing slash, fragment and tracking parameters set aside)"
        )


def _same_name_match(kept: Seed, seed: Seed) -> tuple[float, str] | None:
    """(similarity, why) when two seeds of the same name are the same API: on the same site, or with
    near-duplicate descriptions once the name's own words are left out (a description that repeats
    the name, 'Daily cat facts' under 'Cat Facts', says nothing about which provider it is)."""
    kept_site, seed_site = site(kept.link), site(seed.link)
    if kept_site is not None and kept_site == seed_site:
        return 1.0, f"the same name on the same site ({seed_site})"
    name_words = words(base_name(seed.name))
    kept_words, seed_words = words(kept.description) - name_words, words(seed.description) - name_words
    score = jaccard(kept_words, seed_words)
    if kept_words and seed_words and score >= SEED_DESCRIPTION_THRESHOLD:
        return score, f"the same name and a near-duplicate description (word Jaccard {score:.2f})"
    return None


def _content_words(seed: Seed) -> set[str]:
    """The words of a seed's base name and description."""
    return words(f"{base_name(seed.name)} {seed.description}")


def duplicate_seeds(seeds: Sequence[Seed]) -> list[Duplicate]:
    """The seeds to drop because an earlier seed of the list is the same API. Two seeds are the same
    API when (a) their links are the same once normalised (`normalize_link`); (b) their names are the
    same (case-insensitive, the reader's ' (n)' set aside) and their links are on the same `site`, or
    their descriptions are near-duplicates (word Jaccard `SEED_DESCRIPTION_THRESHOLD`, the name's
    words left out); or (c) their names differ but name and description together are near-duplicates
    (`SEED_CONTENT_THRESHOLD`, MinHash LSH confirmed exactly).

    Seeds are taken in list order (file order) and each is compared with the seeds kept so far, so
    the kept one is always the earlier; a seed dropped as a repeat is not itself matched against.
    Returned in list order. Seeds whose names repeat but which are different APIs (two 'Cat Facts'
    from two providers) are kept: `repeated_names` lists every repeated name."""
    index = _SeedIndex(seeds)
    duplicates: list[Duplicate] = []
    for position, seed in enumerate(seeds):
        match = index.match(position)
        if match is None:
            index.add(position)
            continue
        kept = seeds[match.position]
        line = f", line {kept.line}" if kept.line is not None else ""
        reason = f"the same API as {kept.name!r} (seed {kept.seed_id}{line}): {match.why}"
        duplicates.append(Duplicate(seed.seed_id, kept.seed_id, match.similarity, reason))
    return duplicates
