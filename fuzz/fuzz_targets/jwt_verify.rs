//! Arbitrary bytes as the token of a webhook: the HS256 path of `Verifier::verify`, with an
//! in-memory tenant lookup, a fixed clock and a fixed request (the fixtures' "Simple" vector).
//!
//! Beyond "never panics", an `Ok` is checked against an oracle written here: the signature
//! really is the HMAC-SHA256 of `header.claims` under the secret of the tenant returned, the
//! header says HS256, and `iss`, `exp`, `iat` and `qsh` hold. Refusals never name a secret.
#![no_main]

use common::connect::{CanonicalRequest, Claims, Header, QshRule, SharedSecret, Verifier};
use hookline_fuzz::{
    is_really_signed, ready, secret_of, segment, FixedTenants, LEEWAY, METHOD, NOW, OTHER_SECRET,
    TARGET, TENANT_SECRET,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Tokens reach the verifier as `&str` (a header value or a decoded query parameter).
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let request = CanonicalRequest::new(METHOD, TARGET, "");
    let verifier = Verifier::new(LEEWAY as u64).at(NOW);
    for rule in [QshRule::Request, QshRule::RequestOrContext] {
        match ready(verifier.verify(token, &request, rule, &FixedTenants)) {
            Ok(verified) => {
                assert_genuine(token, verified.tenant.key, &verified.claims, &request, rule);
                let secret = SharedSecret::new(secret_of(verified.tenant.key).unwrap());
                let direct = verifier.verify_with_secret(token, &secret, &request, rule);
                assert_eq!(direct.ok().as_ref(), Some(&verified.claims));
            }
            Err(error) => {
                let message = error.to_string();
                assert!(!message.contains(TENANT_SECRET) && !message.contains(OTHER_SECRET));
                assert!(!error.is_internal(), "a fixed lookup never fails: {error}");
            }
        }
    }
});

/// Everything an accepted token must satisfy, checked without `common`'s code.
fn assert_genuine(
    token: &str,
    tenant: &str,
    claims: &Claims,
    request: &CanonicalRequest,
    rule: QshRule,
) {
    let secret = secret_of(tenant).expect("the tenant is a fixed one");
    assert!(
        is_really_signed(token, secret),
        "accepted without a valid HS256 signature of {tenant}: {token:?}"
    );
    let mut segments = token.split('.');
    let header: Header = segment(segments.next().unwrap()).expect("a JOSE header");
    assert_eq!(header.alg, "HS256", "accepted alg {:?}", header.alg);
    let decoded: Claims = segment(segments.next().unwrap()).expect("Connect claims");
    assert_eq!(&decoded, claims, "the claims returned are the ones signed");
    assert_eq!(claims.iss.as_deref(), Some(tenant), "iss names the tenant");
    let exp = claims.exp.expect("exp is required");
    assert!(
        i128::from(NOW) <= i128::from(exp) + i128::from(LEEWAY),
        "expired"
    );
    if let Some(iat) = claims.iat {
        assert!(iat <= NOW + LEEWAY, "issued in the future");
    }
    let qsh = claims.qsh.as_deref().expect("qsh is required");
    let context_ok = rule == QshRule::RequestOrContext && qsh == "context-qsh";
    assert!(qsh == request.qsh().as_str() || context_ok, "qsh {qsh:?}");
}
