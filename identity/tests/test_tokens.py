"""The token verifier against tokens made the way issuers make them: RS256 and ES256 JWTs from
PyJWT, an ALB's padded ES256 tokens signed over their padded segments, and generated forgeries
(wrong key, tampered claims, alg none, HS256 keyed with the public key, an RSA key offered for
ES256), expired, early, foreign and malformed ones. Every refusal is a TokenRefused with its
reason and is counted; nothing else is ever raised."""
import base64
import json

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from identity.keys import KeySet, alb_loader, keys_from_jwks
from identity.tokens import Policy, TokenRefused, TokenVerifier

NOW = 1_800_000_000
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_EC_KEY = ec.generate_private_key(ec.SECP256R1())
POLICY = Policy(algorithms=frozenset({"RS256", "ES256"}), issuer="https://idp.example", audiences=frozenset({"fc"}),
                user_claim="sub", leeway_s=30)


def claims(**changes):
    return {"iss": "https://idp.example", "aud": "fc", "sub": "alice", "iat": NOW, "nbf": NOW, "exp": NOW + 600,
            **changes}


def verifier(keys=None, policy=POLICY, **kwargs):
    keys = keys or {"ec1": EC_KEY.public_key(), "rsa1": RSA_KEY.public_key()}
    return TokenVerifier(keys=KeySet(load=lambda kid: dict(keys), refresh_interval=60), policy=policy,
                         clock=lambda: NOW, **kwargs)


def es256(payload, *, key=EC_KEY, kid="ec1", **headers):
    return jwt.encode(payload, key, algorithm="ES256", headers={"kid": kid, **headers})


def rs256(payload, *, key=RSA_KEY, kid="rsa1"):
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def refused(v, token):
    with pytest.raises(TokenRefused) as caught:
        v.verify(token)
    return caught.value.reason


def b64(data: bytes, *, padded: bool) -> str:
    text = base64.urlsafe_b64encode(data).decode()
    return text if padded else text.rstrip("=")


def alb_token(payload, *, key=EC_KEY, kid="alb-kid-1", signer="arn:aws:elasticloadbalancing:region:1:loadbalancer/app/x/1"):
    """What an ALB's OIDC action sends in x-amzn-oidc-data: padded base64 segments, ES256 over them."""
    header = {"alg": "ES256", "kid": kid, "signer": signer, "iss": "https://idp.example", "client": "c", "exp": payload["exp"]}
    signing_input = f"{b64(json.dumps(header).encode(), padded=True)}.{b64(json.dumps(payload).encode(), padded=True)}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'), padded=True)}"


def test_rs256_and_es256_tokens_name_their_user():
    v = verifier()
    assert v.verify(es256(claims())) == "alice"
    assert v.verify(rs256(claims(sub="bob"))) == "bob"


@given(user=st.text(min_size=1, max_size=64).filter(str.isprintable))
@settings(max_examples=50, deadline=None)
def test_any_printable_user_id_round_trips(user):
    assert verifier().verify(es256(claims(sub=user))) == user


@given(
    exp=st.integers(min_value=NOW - 10**6, max_value=NOW + 10**6),
    nbf=st.one_of(st.none(), st.integers(min_value=NOW - 10**6, max_value=NOW + 10**6)),
    iss=st.sampled_from(["https://idp.example", "https://evil.example", None]),
    aud=st.sampled_from(["fc", ["x", "fc"], "other", ["x"], None, 7]),
    sub=st.one_of(st.just("alice"), st.just(""), st.text(max_size=80), st.integers(), st.none()),
)
@settings(max_examples=300, deadline=None)
def test_generated_claims_are_accepted_exactly_when_every_rule_holds(exp, nbf, iss, aud, sub):
    payload = {k: v for k, v in {"exp": exp, "nbf": nbf, "iss": iss, "aud": aud, "sub": sub}.items() if v is not None}
    expected = None
    if exp + 30 <= NOW:
        expected = "expired"
    elif nbf is not None and nbf - 30 > NOW:
        expected = "not_yet_valid"
    elif iss != "https://idp.example":
        expected = "issuer"
    elif not (aud == "fc" or (isinstance(aud, list) and "fc" in aud)):
        expected = "audience"
    elif not (isinstance(sub, str) and 0 < len(sub) <= 64 and sub.isprintable()):
        expected = "user"
    v = verifier()
    if expected is None:
        assert v.verify(es256(payload)) == sub
    else:
        assert refused(v, es256(payload)) == expected


def test_forgeries_are_refused_for_their_reason():
    v = verifier()
    good = es256(claims())
    head, body, signature = good.split(".")
    tampered_body = b64(json.dumps(claims(sub="mallory")).encode(), padded=False)
    public_pem = EC_KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    unsigned = b64(json.dumps({"alg": "none", "kid": "ec1"}).encode(), padded=False)
    rsa_for_es = b64(json.dumps({"alg": "ES256", "kid": "rsa1"}).encode(), padded=False)
    hs_with_public_key = f"{b64(json.dumps({'alg': 'HS256', 'kid': 'ec1'}).encode(), padded=False)}.{body}.{signature}"
    assert refused(v, f"{head}.{tampered_body}.{signature}") == "signature"
    assert refused(v, es256(claims(), key=OTHER_EC_KEY)) == "signature"
    assert refused(v, f"{unsigned}.{body}.") == "algorithm"
    assert refused(v, hs_with_public_key) == "algorithm"
    assert refused(v, jwt.encode(claims(), public_pem.decode()[:40] * 2, algorithm="HS256", headers={"kid": "ec1"})) == "algorithm"
    assert refused(v, f"{rsa_for_es}.{body}.{signature}") == "algorithm"
    assert refused(v, es256(claims(), kid="unknown")) == "unknown_key"
    assert refused(v, es256(claims(), kid="../../etc")) == "unknown_key"
    only_rs = verifier(policy=Policy(**{**POLICY.__dict__, "algorithms": frozenset({"RS256"})}))
    assert refused(only_rs, good) == "algorithm"


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
                 st.lists(st.text(alphabet="AZaz09-_=", max_size=40), min_size=1, max_size=5).map(".".join)))
@settings(max_examples=300, deadline=None)
def test_any_string_is_a_user_or_a_refusal_never_an_error(text):
    try:
        verifier().verify(text)
    except TokenRefused as exc:
        assert exc.reason in {"malformed", "algorithm", "unknown_key", "signature"} and exc.http_status == 401


def test_an_albs_padded_tokens_verify_over_their_own_segments_and_the_signer_is_checked():
    signer = "arn:aws:elasticloadbalancing:region:1:loadbalancer/app/x/1"
    pem = EC_KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    fetched = []
    loader = alb_loader("https://public-keys.auth.elb.region.amazonaws.com")

    def fake_fetch(url):
        fetched.append(url)
        return pem

    import identity.keys as keys_module
    original, keys_module.fetch = keys_module.fetch, fake_fetch
    try:
        policy = Policy(algorithms=frozenset({"ES256"}), issuer=None, audiences=frozenset(), user_claim="sub",
                        leeway_s=30, alb_signer=signer)
        v = TokenVerifier(keys=KeySet(load=loader, refresh_interval=60), policy=policy, clock=lambda: NOW)
        token = alb_token({"sub": "carol", "email": "c@example.com", "exp": NOW + 60, "iss": "https://idp.example"})
        assert "=" in token  # padded, as the ALB sends it (PyJWT 2.14's decode refused these: pyjwt#1209)
        assert v.verify(token) == "carol"
        assert fetched == ["https://public-keys.auth.elb.region.amazonaws.com/alb-kid-1"]
        assert refused(v, alb_token({"sub": "carol", "exp": NOW + 60}, signer="arn:other")) == "signer"
        assert refused(v, alb_token({"sub": "carol", "exp": NOW + 60}, key=OTHER_EC_KEY)) == "signature"
    finally:
        keys_module.fetch = original


def test_a_rotated_key_is_found_without_a_restart_and_unknown_kids_refetch_at_most_once_per_interval():
    clock = [0.0]
    published = {"old": EC_KEY.public_key()}
    loads = []

    def load(kid):
        loads.append(kid)
        return dict(published)

    keys = KeySet(load=load, refresh_interval=60, clock=lambda: clock[0])
    keys.refresh()
    v = TokenVerifier(keys=keys, policy=POLICY, clock=lambda: NOW)
    assert v.verify(es256(claims(), kid="old")) == "alice"
    published["new"] = OTHER_EC_KEY.public_key()  # the issuer rotates
    clock[0] = 61
    assert v.verify(es256(claims(sub="bob"), key=OTHER_EC_KEY, kid="new")) == "bob"
    for n in range(20):  # a flood of made-up kids: no fetch within the interval
        assert refused(v, es256(claims(), kid=f"made-up-{n}")) == "unknown_key"
    assert len(loads) == 2


def test_a_verified_token_is_kept_until_it_expires_and_forgeries_are_never_kept():
    now = [NOW]
    v = TokenVerifier(keys=KeySet(load=lambda kid: {"ec1": EC_KEY.public_key()}, refresh_interval=60),
                      policy=POLICY, clock=lambda: now[0], cache_size=2)
    v.keys.refresh()
    issued = es256(claims(exp=NOW + 100))
    assert v.verify(issued) == "alice" and v.cached(issued) == "alice"
    for n in range(5):
        refused(v, es256(claims(sub=f"f{n}"), key=OTHER_EC_KEY))
    assert v.cached(issued) == "alice"  # forgeries did not push it out
    now[0] = NOW + 131
    assert v.cached(issued) is None and refused(v, issued) == "expired"


def test_refusals_are_counted_by_reason():
    def count(reason):
        return REGISTRY.get_sample_value("firstcome_identity_refusals_total", {"reason": reason}) or 0

    before = count("signature"), count("expired")
    v = verifier()
    refused(v, es256(claims(), key=OTHER_EC_KEY))
    refused(v, es256(claims(exp=NOW - 3600)))
    assert (count("signature"), count("expired")) == (before[0] + 1, before[1] + 1)


def test_a_jwks_keeps_signing_keys_of_known_kinds_only():
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key()))
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
    document = json.dumps({"keys": [{**ec_jwk, "kid": "a"}, {**rsa_jwk, "kid": "b"}, {**ec_jwk, "kid": "c", "use": "enc"},
                                    {"kty": "oct", "k": "c2VjcmV0", "kid": "d"}, {**ec_jwk}, "junk"]}).encode()
    assert set(keys_from_jwks(document)) == {"a", "b"}


def test_the_user_claim_is_configurable():
    policy = Policy(**{**POLICY.__dict__, "user_claim": "cognito:username"})
    assert verifier(policy=policy).verify(es256(claims(**{"cognito:username": "dave"}))) == "dave"
    assert refused(verifier(policy=policy), es256(claims())) == "user"


def test_a_source_that_fails_is_tried_again_within_seconds_and_keeps_the_keys_it_had():
    clock, calls = [0.0], []

    def load(kid):
        calls.append(clock[0])
        if len(calls) == 2:
            raise OSError("the identity provider is down")
        return {"ec1": EC_KEY.public_key()}

    keys = KeySet(load=load, refresh_interval=60, clock=lambda: clock[0])
    keys.refresh()
    clock[0] = 61
    keys.refresh("other")  # fails
    assert keys.get("ec1") is not None  # kept
    clock[0] = 61 + 4
    assert not keys.may_refresh()
    clock[0] = 61 + 5
    assert keys.may_refresh()


def test_on_the_event_loop_an_unknown_key_asks_for_a_thread_instead_of_fetching():
    from identity.tokens import KeysNeeded

    fetched = []
    keys = KeySet(load=lambda kid: fetched.append(kid) or {"ec1": EC_KEY.public_key()}, refresh_interval=60)
    v = TokenVerifier(keys=keys, policy=POLICY, clock=lambda: NOW)
    with pytest.raises(KeysNeeded):
        v.verify(es256(claims()), may_fetch=False)
    assert fetched == []  # nothing read on the loop
    assert v.verify(es256(claims())) == "alice" and fetched == ["ec1"]
    assert v.verify(es256(claims(sub="bob")), may_fetch=False) == "bob"  # known now: checked in place


def test_a_huge_token_is_refused_unparsed():
    assert refused(verifier(), "a." * 5000 + "b") == "malformed"
