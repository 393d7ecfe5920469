"""The folded name keys the customers list sorts and searches on.

Operators type names without accents and in any case ("emile", "ozturk", "LUKASZ"), and expect
"Émile", "Öztürk" and "Łukasz" next to "Emma", "Oz" and "Luka" in a name sort. The database
cannot fold that for us the same way everywhere (SQLite's lower() knows ASCII only; a
PostgreSQL ICU collation would also be needed by every index and every LIKE), so the key is
folded here, stored in the search columns (compared in "C" collation on PostgreSQL, so one
btree index serves both the sort and the prefix search), and the query folds `q` with the very
same function. Writes, the seed command, the migration and the list all call this module.
"""

import unicodedata

# Letters NFKD leaves whole (they are letters of their own, not a base letter with a mark), as a
# reader of a Latin-alphabet name would spell them without the diacritic. Applied after
# casefold, so only lower-case forms are needed (casefold already turns "ß" into "ss").
_LETTERS = str.maketrans(
    {
        "ł": "l",
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "ħ": "h",
        "\u0131": "i",  # dotless i (Turkish)
        "ŧ": "t",
        "ŋ": "n",
        "ĸ": "k",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "ß": "ss",
    }
)

# The width of search_name / search_full_name ("last first" of two 100-character names). A
# folded name can be longer than the original ("ß" -> "ss", "ﬃ" -> "ffi"); the cut-off tail
# does not matter to a prefix search or a sort that ends with the id.
KEY_LENGTH = 201


def fold(text: str) -> str:
    """`text` without case or accents: casefold, NFKD, drop combining marks, map the rest."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.translate(_LETTERS)


def name_keys(first_name: str, last_name: str) -> tuple[str, str]:
    """(search_name, search_full_name): the folded "last first" and "first last"."""
    return (
        fold(f"{last_name} {first_name}")[:KEY_LENGTH],
        fold(f"{first_name} {last_name}")[:KEY_LENGTH],
    )
