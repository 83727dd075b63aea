//! Structured HS256 tokens: a header and claims chosen by the fuzzer (right or wrong alg,
//! issuer, times, qsh), signed with the tenant's secret, another tenant's or arbitrary bytes,
//! and then possibly damaged. The verifier's verdict must be exactly the one a model of
//! docs/protocol.md's checks predicts, in the verifier's order: alg, iss, tenant, signature, exp,
//! iat, qsh. Random bytes cannot reach the signature checks; this target lives there.
#![no_main]

use common::connect::{CanonicalRequest, Qsh, QshRule, Verifier};
use hookline_fuzz::{
    b64, hs256, ready, secret_of, FixedTenants, LEEWAY, METHOD, NOW, OTHER_KEY, OTHER_SECRET,
    TARGET, TENANT_KEY, TENANT_SECRET,
};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

#[derive(Arbitrary, Debug)]
enum Alg {
    Hs256,
    LowerCase,
    Hs512,
    None,
    Rs256,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Iss {
    Tenant,
    OtherTenant,
    Unknown(String),
    Empty,
    Missing,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Time {
    /// Seconds from `NOW`, where the interesting boundaries are.
    Near(i16),
    Absolute(i64),
}

#[derive(Arbitrary, Debug)]
enum QshClaim {
    ThisRequest,
    Context,
    UpperCase,
    AnotherRequest,
    Other(String),
    Missing,
}

#[derive(Arbitrary, Debug)]
enum Key {
    TenantSecret,
    OtherSecret,
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Damage {
    None,
    FlipBit(u8, u8),
    Truncate(u8),
    Empty,
    Padded,
    Replace(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    alg: Alg,
    typ: Option<String>,
    kid: Option<String>,
    iss: Iss,
    exp: Option<Time>,
    iat: Option<Time>,
    qsh: QshClaim,
    sub: Option<String>,
    aud: Vec<String>,
    extra: Option<(String, String)>,
    key: Key,
    damage: Damage,
    context_allowed: bool,
}

fuzz_target!(|input: Input| {
    let request = CanonicalRequest::new(METHOD, TARGET, "");
    let rule = if input.context_allowed {
        QshRule::RequestOrContext
    } else {
        QshRule::Request
    };
    let (token, iss) = build(&input, &request);
    let verifier = Verifier::new(LEEWAY as u64).at(NOW);
    let verdict = ready(verifier.verify(&token, &request, rule, &FixedTenants));
    let expected = expect(&input, iss.as_deref(), &token, &request, rule);
    match (&verdict, expected) {
        (Ok(verified), Ok(())) => assert_eq!(Some(verified.tenant.key), iss.as_deref()),
        (Err(error), Err(code)) => assert_eq!(error.code(), code, "{input:?}"),
        (got, want) => panic!("verdict {got:?}, model {want:?} for {input:?}"),
    }
});

fn time(time: Time) -> i64 {
    match time {
        Time::Near(offset) => NOW + i64::from(offset),
        Time::Absolute(at) => at,
    }
}

/// The token and the `iss` it claims.
fn build(input: &Input, request: &CanonicalRequest) -> (String, Option<String>) {
    let alg = match &input.alg {
        Alg::Hs256 => "HS256",
        Alg::LowerCase => "hs256",
        Alg::Hs512 => "HS512",
        Alg::None => "none",
        Alg::Rs256 => "RS256",
        Alg::Other(other) => other,
    };
    let mut header = Map::new();
    header.insert("alg".into(), json!(alg));
    if let Some(typ) = &input.typ {
        header.insert("typ".into(), json!(typ));
    }
    if let Some(kid) = &input.kid {
        header.insert("kid".into(), json!(kid));
    }
    let iss = match &input.iss {
        Iss::Tenant => Some(TENANT_KEY.to_owned()),
        Iss::OtherTenant => Some(OTHER_KEY.to_owned()),
        Iss::Unknown(name) => Some(name.clone()),
        Iss::Empty => Some(String::new()),
        Iss::Missing => None,
    };
    let qsh = match &input.qsh {
        QshClaim::ThisRequest => Some(request.qsh().to_string()),
        QshClaim::Context => Some(Qsh::CONTEXT.to_owned()),
        QshClaim::UpperCase => Some(request.qsh().as_str().to_uppercase()),
        QshClaim::AnotherRequest => Some(Qsh::for_request("POST", TARGET, "").to_string()),
        QshClaim::Other(other) => Some(other.clone()),
        QshClaim::Missing => None,
    };
    let mut claims = Map::new();
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            claims.insert(name.to_owned(), value);
        }
    };
    put("iss", iss.clone().map(Value::from));
    put("exp", input.exp.map(|t| json!(time(t))));
    put("iat", input.iat.map(|t| json!(time(t))));
    put("qsh", qsh.map(Value::from));
    put("sub", input.sub.clone().map(Value::from));
    put("aud", (!input.aud.is_empty()).then(|| json!(input.aud)));
    if let Some((name, value)) = &input.extra {
        // Prefixed so it never collides with a claim the verifier reads.
        put(&format!("x-{name}"), Some(json!(value)));
    }
    let signing_input = format!(
        "{}.{}",
        b64(Value::Object(header).to_string().as_bytes()),
        b64(Value::Object(claims).to_string().as_bytes())
    );
    let key: &[u8] = match &input.key {
        Key::TenantSecret => TENANT_SECRET.as_bytes(),
        Key::OtherSecret => OTHER_SECRET.as_bytes(),
        Key::Raw(bytes) => bytes,
    };
    let mut mac = hs256(key, signing_input.as_bytes());
    let signature = match &input.damage {
        Damage::None => b64(&mac),
        Damage::FlipBit(at, bit) => {
            let at = usize::from(*at) % mac.len();
            mac[at] ^= 1 << (bit % 8);
            b64(&mac)
        }
        Damage::Truncate(len) => b64(&mac[..usize::from(*len).min(mac.len())]),
        Damage::Empty => String::new(),
        Damage::Padded => format!("{}=", b64(&mac)),
        Damage::Replace(text) => text.clone(),
    };
    (format!("{signing_input}.{signature}"), iss)
}

/// The verdict the checks of docs/protocol.md §2, in the verifier's order, give this input.
fn expect(
    input: &Input,
    iss: Option<&str>,
    token: &str,
    request: &CanonicalRequest,
    rule: QshRule,
) -> Result<(), &'static str> {
    if token.len() > common::connect::verify::MAX_TOKEN_BYTES {
        return Err("jwt_too_large");
    }
    let signature = token.rsplit_once('.').map(|(_, s)| s).unwrap_or_default();
    if signature.contains('.') || token.matches('.').count() != 2 {
        // Only a replaced signature can add segments.
        return Err("jwt_malformed");
    }
    if !matches!(input.alg, Alg::Hs256) && !matches!(&input.alg, Alg::Other(a) if a == "HS256") {
        return Err("jwt_algorithm");
    }
    let iss = iss.filter(|iss| !iss.is_empty()).ok_or("jwt_missing_iss")?;
    let secret = secret_of(iss).ok_or("jwt_unknown_iss")?;
    let (signing_input, _) = token.rsplit_once('.').unwrap_or_default();
    if signature != b64(&hs256(secret.as_bytes(), signing_input.as_bytes())) {
        return Err("jwt_bad_signature");
    }
    let exp = input.exp.map(time).ok_or("jwt_missing_exp")?;
    if i128::from(NOW) > i128::from(exp) + i128::from(LEEWAY) {
        return Err("jwt_expired");
    }
    if input.iat.map(time).is_some_and(|iat| iat > NOW + LEEWAY) {
        return Err("jwt_iat_future");
    }
    match &input.qsh {
        QshClaim::Missing => Err("jwt_missing_qsh"),
        QshClaim::ThisRequest => Ok(()),
        QshClaim::Other(q) if q == request.qsh().as_str() => Ok(()),
        QshClaim::Context => context(rule),
        QshClaim::Other(q) if q == Qsh::CONTEXT => context(rule),
        _ => Err("jwt_qsh_mismatch"),
    }
}

fn context(rule: QshRule) -> Result<(), &'static str> {
    match rule {
        QshRule::RequestOrContext => Ok(()),
        QshRule::Request => Err("jwt_context_qsh"),
    }
}
