"""Word segmentation of Thai written without spaces ("อยู่อำเภอสันทรายจังหวัดเชียงใหม่").

Vosk prints Thai as dictionary words separated by spaces; people type it with no spaces between
words, only between clauses. The rest of the understanding reads words (place names are matched on
whole words, digit words are read one by one), so a run of Thai that is not itself a word is cut
into words first, with PyThaiNLP's ``newmm`` (dictionary maximal matching, offline) over its own
word list plus every province and district name and the spoken forms in understanding.toml, so
that a place name comes out as one word however it is glued to its neighbours.

A word the dictionary does not know (a misheard name, "พิศณุโลก") comes out of ``newmm`` in
pieces; consecutive unknown pieces are joined again, so the place matcher still sees one word it
can match phonetically or fuzzily. A token is kept as it is when it is a dictionary word, a run of
digit words (``numbers`` reads those), or short and with no word in it that ends a clause or
introduces a place (ครับ, อยู่, อำเภอ ...): such a token is one word the recogniser or the typist
spelt its own way ("หนองบัวแดน" for หนองบัวแดง), and cutting it ("หนองบัว|แดน") would lose it.
So spaced transcripts read as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from pythainlp.corpus.common import thai_words
from pythainlp.tokenize import word_dict_trie
from pythainlp.tokenize.newmm import segment
from pythainlp.util import Trie

_THAI = re.compile("[\u0e00-\u0e7f]")
# Written abbreviations glued to a name: "อ.สันทราย", "จ.เชียงใหม่" (not the "ก." of "ธ.ก.ส.").
_GLUED_ABBREVIATION = re.compile("(?<![.\u0e01-\u0e2e])([อจต])\\.(?=[\u0e01-\u0e2e][^.])")
_ABBREVIATIONS = {"อ": "อำเภอ", "จ": "จังหวัด", "ต": "ตำบล"}
# Letters from which an unknown token is taken for a typed phrase even with no clause or place
# word in it. In the labelled sets no spaced token (other than a run of digit words) that the
# dictionary does not know is this long: the longest, a misspelt name, has 13 letters.
SHORTEST_PHRASE = 16


class _Words(Trie):
    """PyThaiNLP's word trie (built once per process and shared) plus a small trie of ours.

    Building a ``Trie`` of all 62,000 words again for each ``Understanding`` would cost a second
    or more of pure Python; ``newmm`` only asks for ``prefixes`` (and whether the trie is
    empty), which this answers from both.
    """

    def __init__(self, extra_words: frozenset[str]) -> None:
        super().__init__(extra_words)
        self._shared = word_dict_trie()

    def prefixes(self, text: str, start: int = 0) -> list[str]:
        shared = self._shared.prefixes(text, start)
        ours = super().prefixes(text, start)
        if not ours:
            return shared
        return sorted(set(shared).union(ours), key=len)  # shortest first, as a Trie gives them

    def __contains__(self, key: str) -> bool:
        return key in self._shared or super().__contains__(key)


class Segmenter:
    """Built once; ``split`` is then pure and thread-safe."""

    def __init__(
        self,
        extra_words: Iterable[str],
        boundary_words: Iterable[str],
        is_number: Callable[[str], bool],
    ) -> None:
        """``boundary_words``: words that show a token is a phrase (clause ends, place markers,
        locatives); ``is_number``: whether a token is a run of digit words."""
        self._boundaries = frozenset(boundary_words)
        ours = frozenset(word for word in extra_words if word) | self._boundaries
        self._words = frozenset(thai_words()) | ours
        self._trie = _Words(ours)
        self._is_number = is_number

    def split(self, token: str) -> list[str]:
        """``token`` (no spaces) as words; a dictionary word or non-Thai token stays whole."""
        if token in self._words or not _THAI.search(token):
            return [token]
        token = _GLUED_ABBREVIATION.sub(lambda m: f" {_ABBREVIATIONS[m.group(1)]} ", token)
        words: list[str] = []
        for part in token.split():
            words.extend(self._split_part(part))
        return words

    def _split_part(self, part: str) -> list[str]:
        if part in self._words or self._is_number(part):
            return [part]
        words = self._segment(part)
        if len(part) < SHORTEST_PHRASE and not self._boundaries.intersection(words):
            return [part]
        return words

    def _segment(self, part: str) -> list[str]:
        words: list[str] = []
        unknown = False  # whether words[-1] is a run of pieces the dictionary does not know
        for piece in segment(part, custom_dict=self._trie):
            known = piece in self._words or not _THAI.search(piece)
            # unknown pieces join up again, and so does a lone unknown letter with the piece
            # before it: "หนอง|กุ|ง|สี" → "หนอง|กุง|สี"
            if words and not known and (unknown or len(piece) == 1):
                words[-1] += piece
            else:
                words.append(piece)
            unknown = not known
        return words
