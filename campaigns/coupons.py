"""Coupon codes: what a winner shows at the till, and how a typed one is read back.

A code is 16 characters of Crockford's base32 alphabet (digits and capitals without I, L, O, U,
so nothing reads as something else): 15 random ones from the secrets module (75 bits, never
guessed nor enumerated) and a check character. The check is Damm's algorithm over the field of
32 elements, step(interim, c) = 2·interim + c: a quasigroup whose (c∘x)∘y ≠ (c∘y)∘x for x ≠ y,
so every single-character substitution and every swap of two adjacent characters changes the
result, and a mistyped code is refused before any lookup (campaigns/tests/test_coupons.py).

Typed codes are read as Crockford says: case does not matter, O is 0, I and L are 1, hyphens
are ignored.
"""
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 16
_RANDOM = LENGTH - 1
# Longer input is refused without reading it (hyphens aside, a code is 16 characters).
MAX_INPUT_LENGTH = 64
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
# 256 is a multiple of 32: a random byte's low five bits are a uniform symbol.
_SYMBOL_OF_BYTE = bytes(ord(ALPHABET[b % 32]) for b in range(256))
# Typed input, as Crockford reads it: lower case, O for 0, I and L for 1; hyphens dropped.
_READ = str.maketrans({**{c.lower(): c for c in ALPHABET if c.isalpha()},
                       "O": "0", "o": "0", "I": "1", "i": "1", "L": "1", "l": "1", "-": None})


def _times_two(x: int) -> int:
    """x·2 in GF(32), modulo the primitive polynomial x⁵ + x² + 1."""
    x <<= 1
    return x ^ 0b100101 if x & 0b100000 else x


_TWICE = [_times_two(x) for x in range(32)]
# step(interim, symbol) = 2·interim + symbol (addition in GF(32) is XOR), by symbol character.
_STEP = [{c: _TWICE[interim] ^ v for c, v in _VALUE.items()} for interim in range(32)]


class CouponCodeInvalid(ValueError):
    """A typed code that cannot be one we issued; the message says why."""


def _interim(code: str) -> int:
    interim = 0
    for c in code:
        interim = _STEP[interim][c]
    return interim


def coupon_codes(count: int) -> list[str]:
    """`count` new codes: one secrets call for all of them, no database query. Unique in
    practice (75 random bits each); the database's unique key has the last word."""
    symbols = secrets.token_bytes(_RANDOM * count).translate(_SYMBOL_OF_BYTE).decode("ascii")
    return [with_check(symbols[start:start + _RANDOM]) for start in range(0, _RANDOM * count, _RANDOM)]


def with_check(body: str) -> str:
    """15 symbols and their check character: the c that makes the last step 2·interim + c = 0."""
    return body + ALPHABET[_TWICE[_interim(body)]]


def coupon_code_read(typed: str) -> str:
    """A typed code as stored (upper case, Crockford's confusions resolved, hyphens dropped), or
    CouponCodeInvalid saying what is wrong: a character outside the alphabet, the length, or the
    check character (a typo)."""
    if len(typed) > MAX_INPUT_LENGTH:
        raise CouponCodeInvalid(f"a coupon code has {LENGTH} characters; this has {len(typed)}")
    code = typed.translate(_READ)
    for position, c in enumerate(code):
        if c not in _VALUE:
            raise CouponCodeInvalid(
                f"{c!r} at position {position} is not a coupon code character "
                "(digits and letters except U; I, L and O read as 1, 1 and 0)")
    if len(code) != LENGTH:
        raise CouponCodeInvalid(f"a coupon code has {LENGTH} characters (hyphens aside); this has {len(code)}")
    if _interim(code) != 0:
        raise CouponCodeInvalid("the check character does not match: the code is mistyped")
    return code
