"""English words too common to tell one claim's news from another's: left out of claim terms
and of the dictionary's glosses. A word list, kept apart from the code that reads it.
"""

from __future__ import annotations


def word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# --- English --------------------------------------------------------------------------------------

STOP_WORDS = word_set(
    """a about above across after again against all almost along also although am among an and any
    are around as at away back be because been before being below between both but by can cannot
    could did do does doing done down during each either else even ever every few for from further
    had has have having he her here hers him his how however i if in including into is it its just
    last least less like made make makes many may me might more most much must my near nearly neither
    next no nor not now of off on once one only onto or other others our out over own per rather
    same several she should since so some still such than that the their them then there these they
    this those though through thus to too toward towards two three four five six seven eight nine ten
    under until up upon us u.s. very via was we were what when where whether which while who whom
    whose why will with within without would yet you your first second third half
    said says say saying told tell according report reports reported reporting announced
    new old big high low higher lower more most top key main major own other another
    year years month months week weeks day days today yesterday time times date quarter quarters
    percent per cent billion million thousand hundred trillion dozen bn mn us$ usd rmb yuan dollar dollars
    about around roughly approximately least almost nearly
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    monday tuesday wednesday thursday friday saturday sunday
    put puts take takes taken took get gets got give gives given gave go goes went gone come comes came
    see sees seen saw use uses used using keep keeps kept show shows shown begin began begun become
    became want wants way ways part lot lots well able"""
)
