"""Corpus-wide de-duplication: repeated requests (exact and near, whatever the input order, at scale)
and seed lists that name one API twice (the real 2026 public-apis snapshot, and each rule alone)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from schemas.seed import IngestProblem, Seed
from schemas.similarity import jaccard, near_duplicate, words
from tasks.dedup import (
    Duplicate,
    duplicate_requests,
    duplicate_seeds,
    lsh_bands,
    natural_key,
    normalize_link,
    repeated_names,
    site,
)
from tasks.seeds import read_seeds

SNAPSHOT_2026 = Path(__file__).resolve().parents[2] / "shared" / "data" / "public-apis" / "README-2026-08.md"

TEN_WORDS = "Book a table for four at an Italian restaurant tonight"


def reference_duplicates(items: list[tuple[str, str]], threshold: float = 0.8) -> dict[str, str]:
    """{dropped id: kept id} by brute force over the definition: items in natural id order, each
    compared with every item kept so far (the earliest match wins)."""
    kept: list[tuple[str, set[str]]] = []
    dropped: dict[str, str] = {}
    for item_id, text in sorted(items, key=lambda item: natural_key(item[0])):
        ws = words(text)  # near_duplicate(text, kept_text, threshold), its word sets computed once
        twin = next((k for k, kws in kept if ws and kws and jaccard(ws, kws) >= threshold), None)
        if twin is None:
            kept.append((item_id, ws))
        else:
            dropped[item_id] = twin
    return dropped


def as_pairs(duplicates: list[Duplicate]) -> dict[str, str]:
    return {d.item_id: d.kept_id for d in duplicates}


# --------------------------------------------------------------------------- similarity


def test_similarity_is_the_jaccard_of_lowercase_word_sets():
    assert words("Find cat-facts, NOW!") == {"find", "cat", "facts", "now"}
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3) and jaccard(set(), set()) == 0.0
    assert near_duplicate("a b c d e", "a b c d f", threshold=4 / 6)
    assert not near_duplicate("a b c d e", "a b c d f")
    assert not near_duplicate("", "") and not near_duplicate("!!", "!!")


# --------------------------------------------------------------------------- requests


def test_exact_duplicates_ignore_case_spacing_and_punctuation():
    items = [("r-1", TEN_WORDS), ("r-2", "  BOOK a table, for four at an italian restaurant... tonight?")]
    [duplicate] = duplicate_requests(items)
    assert (duplicate.item_id, duplicate.kept_id, duplicate.similarity) == ("r-2", "r-1", 1.0)
    assert duplicate.reason.startswith("exact duplicate of request r-1")


def test_exact_duplicates_in_other_scripts_are_found_though_they_have_no_ascii_words():
    items = [("a", "Réserve une table à Zürich"), ("b", "réserve une table à zürich !")]
    [duplicate] = duplicate_requests(items)
    assert (duplicate.item_id, duplicate.kept_id) == ("b", "a")
    assert duplicate_requests([("a", "東京の天気は？"), ("b", "東京の天気は")])[0].kept_id == "a"


def test_one_word_changed_in_ten_is_a_near_duplicate_and_a_different_request_is_not():
    changed = TEN_WORDS.replace("Italian", "Mexican")
    other = "What is the weather like in Lima tomorrow morning"
    items = [("r-1", TEN_WORDS), ("r-2", changed), ("r-3", other)]
    [duplicate] = duplicate_requests(items)
    assert (duplicate.item_id, duplicate.kept_id) == ("r-2", "r-1")
    assert duplicate.similarity == pytest.approx(9 / 11)
    assert duplicate.reason == "near-duplicate of request r-1 (word Jaccard 0.82)"


def test_two_words_changed_in_ten_is_below_the_threshold():
    changed = TEN_WORDS.replace("Italian", "Mexican").replace("four", "six")
    items = [("r-1", TEN_WORDS), ("r-2", changed)]
    assert duplicate_requests(items) == []
    assert as_pairs(duplicate_requests(items, threshold=0.6)) == {"r-2": "r-1"}


def test_the_kept_request_is_the_smallest_id_in_natural_order():
    assert natural_key("tool-2") < natural_key("tool-10") < natural_key("tool-10-b")
    items = [("tool-10", TEN_WORDS), ("tool-2", TEN_WORDS.lower()), ("tool-9", TEN_WORDS + "!")]
    assert as_pairs(duplicate_requests(items)) == {"tool-9": "tool-2", "tool-10": "tool-2"}


def test_the_result_does_not_depend_on_the_input_order():
    rng = random.Random(11)
    vocabulary = [f"w{i}" for i in range(10)]
    items = [(f"d-{i}", " ".join(rng.sample(vocabulary, rng.randint(4, 7)))) for i in range(150)]
    expected = duplicate_requests(items)
    assert len(expected) > 40  # a small vocabulary: many groups, chains and near misses
    for attempt in range(5):
        shuffled = items[:]
        random.Random(attempt).shuffle(shuffled)
        assert duplicate_requests(shuffled) == expected
        assert duplicate_requests(reversed(shuffled)) == expected


def test_near_duplicates_match_the_exact_definition_not_a_minhash_estimate():
    rng = random.Random(3)
    vocabulary = [f"w{i}" for i in range(12)]
    items = [(f"d-{i}", " ".join(rng.sample(vocabulary, rng.randint(5, 9)))) for i in range(400)]
    found = duplicate_requests(items)
    assert as_pairs(found) == reference_duplicates(items)
    texts = dict(items)
    assert all(d.similarity == jaccard(words(texts[d.item_id]), words(texts[d.kept_id])) for d in found)
    assert all(d.similarity >= 0.8 for d in found)


def test_a_text_with_no_words_is_never_a_duplicate():
    items = [("a", ""), ("b", ""), ("c", "?!"), ("d", "?!"), ("e", "   "), ("f", TEN_WORDS)]
    assert duplicate_requests(items) == []


def test_a_repeated_id_and_a_threshold_out_of_range_are_refused():
    with pytest.raises(ValueError, match="'a' appears more than once"):
        duplicate_requests([("a", "one"), ("b", "two"), ("a", "three")])
    with pytest.raises(ValueError, match="threshold"):
        duplicate_requests([], threshold=0)


def test_the_lsh_is_tuned_for_recall_at_the_threshold():
    bands, rows = lsh_bands(0.8, 64)
    assert (bands, rows) == (16, 4)
    assert 1 - (1 - 0.8**rows) ** bands >= 0.999
    assert lsh_bands(1.0, 64) == (2, 32)


def test_a_large_corpus_gives_exactly_the_planted_near_duplicates():
    rng = random.Random(2026)
    vocabulary = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "po", "ra", "se", "tu") for b in range(80)]
    items = [(f"req-{i}", " ".join(rng.sample(vocabulary, 10))) for i in range(2000)]
    planted: dict[str, str] = {}
    for source in rng.sample(range(2000), 50):
        source_words = items[source][1].split()
        source_words[rng.randrange(10)] = rng.choice([w for w in vocabulary if w not in source_words])
        planted[f"req-{source}-copy"] = f"req-{source}"
        items.append((f"req-{source}-copy", " ".join(reversed(source_words))))
    rng.shuffle(items)
    found = duplicate_requests(items)
    assert as_pairs(found) == planted
    assert as_pairs(found) == reference_duplicates(items)
    assert {round(d.similarity, 3) for d in found} == {round(9 / 11, 3)}


# --------------------------------------------------------------------------- seeds: the real snapshot


@pytest.fixture(scope="module")
def snapshot_2026() -> tuple[list[Seed], list[IngestProblem]]:
    if not SNAPSHOT_2026.is_file():
        pytest.skip(f"public-apis snapshot not found at {SNAPSHOT_2026}")
    return read_seeds(str(SNAPSHOT_2026))


def renamed_ids(seeds: list[Seed], problems: list[IngestProblem]) -> set[str]:
    """The ids of the seeds the reader renamed (found by the line of its 'renamed' problem)."""
    lines = {p.line for p in problems if p.action == "renamed"}
    return {s.seed_id for s in seeds if s.line in lines}


def test_repeated_names_in_the_2026_snapshot_are_the_21_the_reader_renamed(snapshot_2026):
    seeds, problems = snapshot_2026
    repeated = repeated_names(seeds)
    assert len(repeated) == 21
    assert {ids[1] for _, ids in repeated} == renamed_ids(seeds, problems)
    assert all(len(ids) == 2 for _, ids in repeated)
    assert ("IPstack", ["ipstack", "ipstack-2"]) in repeated  # 'ipstack' later: the first spelling names it
    assert repeated[0] == ("Cat Facts", ["cat-facts", "cat-facts-2"])  # in order of first appearance


def test_duplicate_seeds_in_the_2026_snapshot(snapshot_2026, capsys):
    seeds, problems = snapshot_2026
    duplicates = duplicate_seeds(seeds)
    dropped = {d.item_id: d for d in duplicates}
    position = {s.seed_id: i for i, s in enumerate(seeds)}
    first_with_link: dict[str, int] = {}
    shares_an_earlier_link = set()
    for i, seed in enumerate(seeds):
        link = normalize_link(seed.link)
        if link and first_with_link.setdefault(link, i) != i:
            shares_an_earlier_link.add(seed.seed_id)

    assert set(dropped) <= renamed_ids(seeds, problems) | shares_an_earlier_link
    assert all(position[d.kept_id] < position[d.item_id] for d in duplicates)
    assert [d.item_id for d in duplicates] == sorted(dropped, key=position.__getitem__)
    # Repeated names that are one API: the same link (TasteDive; ipstack once its utm_ parameters go;
    # JSONPlaceholder once http and the slash go), the same site (URLhaus on abuse.ch, Mapbox,
    # Cloudmersive), or the same name with the same description: 'Steam Web API documentation' /
    # 'Internal Steam Web API documentation', SpaceX's launch data and its GraphQL front.
    assert set(dropped) & renamed_ids(seeds, problems) == {
        "tastedive-2",
        "ipstack-2",
        "jsonplaceholder-2",
        "urlhaus-2",
        "mapbox-2",
        "cloudmersive-validate-2",
        "steam-2",
        "spacex-2",
    }
    # Two names, one link: isitdownstatus.com, and FOAAS ('Fuck Off as a Service').
    assert set(dropped) - renamed_ids(seeds, problems) == {"isitdownstatus", "fuck-off-as-a-service"}
    # Kept: Helium the blockchain and Helium the news service; cat facts from two providers (the
    # descriptions 'Daily cat facts' / 'Random cat facts' share only the name's words); the
    # template-written 'Tenders in Hungary' / '... Poland' and 'Shopee' / 'Tokopedia'.
    for kept in ("helium-2", "cat-facts-2", "dog-facts-2", "swapi-2", "tenders-in-poland", "tokopedia"):
        assert kept not in dropped
    tastedive = dropped["tastedive-2"]
    assert (tastedive.kept_id, tastedive.similarity) == ("tastedive", 1.0)
    assert tastedive.reason == (
        "the same API as 'TasteDive' (seed tastedive, line 809): the same link https://tastedive.com/read/api"
    )
    ipstack = dropped["ipstack-2"]
    assert ipstack.kept_id == "ipstack" and "the same link ipstack.com" in ipstack.reason
    assert dropped["urlhaus-2"].reason.endswith("the same name on the same site (abuse.ch)")
    assert capsys.readouterr() == ("", "")


# --------------------------------------------------------------------------- seeds: each rule


def seed(seed_id: str, name: str, description: str, link: str = "") -> Seed:
    return Seed(seed_id=seed_id, name=name, description=description, category="Test", link=link, source="t")


def test_links_are_compared_without_scheme_www_slash_fragment_or_tracking():
    same = [
        "https://www.Example.com/api/?utm_source=Github&utm_medium=x",
        "http://example.com:80/api#intro",
        "example.com/api",
    ]
    assert {normalize_link(link) for link in same} == {"example.com/api"}
    assert normalize_link("https://example.com/API") != normalize_link("https://example.com/api")
    assert normalize_link("https://x.org/a.php?id=2&b=1") == "x.org/a.php?b=1&id=2"
    assert normalize_link("https://x.org/a.php?id=1") != normalize_link("https://x.org/a.php?id=2")
    assert normalize_link("") == normalize_link("  ") == ""


def test_a_site_is_the_registrable_domain_or_the_owner_on_a_shared_host():
    assert site("https://urlhaus-api.abuse.ch/") == site("https://urlhaus.abuse.ch/api/") == "abuse.ch"
    assert site("https://data.example.co.uk/x") == "example.co.uk" != site("https://other.co.uk")
    assert site("https://alexwohlbruck.github.io/cat-facts/") == "alexwohlbruck.github.io"
    assert site("https://github.com/Revadike/InternalSteamWebAPI/wiki") == "github.com/revadike"
    assert site("https://rapidapi.com/user/inferdo") == "rapidapi.com/inferdo"
    assert site("https://blynkapi.docs.apiary.io/#") == "blynkapi.docs.apiary.io"
    assert site("http://127.0.0.1:8000/x") == "127.0.0.1" and site("") is None


def test_same_name_on_a_shared_host_is_one_api_only_for_the_same_owner():
    seeds = [
        seed("a", "Quotes", "Famous quotes by author", "https://alice.github.io/quotes/"),
        seed("a-2", "Quotes (2)", "Random sayings of the day", "https://bob.github.io/quotes-api/"),
        seed("a-3", "quotes (3)", "Inspiration on demand", "https://alice.github.io/quotes/v2/"),
    ]
    [duplicate] = duplicate_seeds(seeds)
    assert (duplicate.item_id, duplicate.kept_id) == ("a-3", "a")
    assert duplicate.reason.endswith("the same name on the same site (alice.github.io)")


def test_same_name_with_the_same_description_is_one_api_on_any_host():
    seeds = [
        seed("m", "Moon", "Moon phases and rise times for any place", "https://moon.example.org"),
        seed("m-2", "Moon (2)", "Moon phases and rise times for a place", "https://moon-mirror.example.net"),
        seed("m-3", "Moon (3)", "Craters of the moon, a 3D atlas", "https://atlas.example.com"),
    ]
    assert as_pairs(duplicate_seeds(seeds)) == {"m-2": "m"}


def test_different_names_with_the_same_name_and_description_are_one_api_unless_written_from_a_template():
    description = "Free hourly weather forecasts for any city worldwide, with history and severe alerts"
    seeds = [
        seed("w", "Weatherly", description, "https://weatherly.example.com"),
        seed("t-hu", "Tenders in Hungary", "Get data for procurements in Hungary in JSON format"),
        seed("t-pl", "Tenders in Poland", "Get data for procurements in Poland in JSON format"),
        seed("w-api", "Weatherly API", description, "https://api.weatherly.example.net/v1"),
    ]
    [duplicate] = duplicate_seeds(seeds)
    assert (duplicate.item_id, duplicate.kept_id) == ("w-api", "w")
    assert duplicate.reason.endswith("a near-duplicate name and description (word Jaccard 0.93)")


def test_the_kept_seed_is_the_earlier_in_list_order_whatever_its_name():
    seeds = [
        seed("b", "Beta", "Something about beta releases", "https://one.example.com/beta"),
        seed("a", "Alpha", "Something about alpha releases", "https://one.example.com/beta/"),
        seed("c", "Gamma", "Something else entirely here", "https://one.example.com/beta?utm_campaign=x"),
    ]
    assert as_pairs(duplicate_seeds(seeds)) == {"a": "b", "c": "b"}
