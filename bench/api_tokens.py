"""A staff API token's check (identity.api_tokens.api_token_user): remembered (a SHA-256 and a
dictionary lookup, within RECENT_S of the last check), and first (one indexed MariaDB lookup by
prefix as well), beside the password hash HTTP Basic costs per request (the PBKDF2 of the
production settings' hasher), per call on this machine.

    .venv/bin/python -m bench.api_tokens [--calls 2000]
"""
import argparse
import statistics
import time

from bench._harness import print_table, setup_django


def timed(function, calls):
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()

    from django.contrib.auth.hashers import PBKDF2PasswordHasher
    from django.contrib.auth.models import User

    from identity.api_tokens import api_token_create, api_token_user, recent_forget
    from identity.models import ApiToken

    user, _ = User.objects.get_or_create(username="bench-till")
    ApiToken.objects.filter(user=user).delete()
    _, presented = api_token_create(user=user, name="bench")
    assert api_token_user(presented=presented) == user
    token_p50, token_p99 = timed(lambda: api_token_user(presented=presented), args.calls)

    def first_check():
        recent_forget()
        api_token_user(presented=presented)

    first_p50, first_p99 = timed(first_check, args.calls // 4)
    hasher, encoded = PBKDF2PasswordHasher(), PBKDF2PasswordHasher().encode("a-password", "saltsaltsalt")
    hash_p50, hash_p99 = timed(lambda: hasher.verify("a-password", encoded), max(20, args.calls // 100))
    print_table(["check", "p50 µs", "p99 µs"], [["API token, remembered (SHA-256 + dict)", f"{token_p50:,.1f}", f"{token_p99:,.1f}"],
                                               ["API token, first check (+ MariaDB lookup)", f"{first_p50:,.0f}", f"{first_p99:,.0f}"],
                                               ["HTTP Basic's password hash (PBKDF2)", f"{hash_p50:,.0f}", f"{hash_p99:,.0f}"]])
    ok = token_p99 < 1000
    print(f"{'ok  ' if ok else 'FAIL'} a remembered API token is checked in under a millisecond (p99)")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    setup_django()
    main()
