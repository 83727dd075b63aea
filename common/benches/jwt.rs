//! Cost of the Connect JWT core per token: canonicalising a request, verifying a product
//! token (with an in-memory tenant lookup), and signing an app token.
//! Run with `cargo bench -p common --bench jwt`.
use std::convert::Infallible;

use common::connect::sign::{app_token, product_token};
use common::connect::{
    CanonicalRequest, HasSharedSecret, QshRule, SharedSecret, TenantLookup, Verifier,
};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const NOW: i64 = 1_800_000_000;

struct Tenant(SharedSecret);

impl HasSharedSecret for Tenant {
    fn shared_secret(&self) -> &SharedSecret {
        &self.0
    }
}

struct OneTenant;

impl TenantLookup for OneTenant {
    type Tenant = Tenant;
    type Error = Infallible;

    async fn find_tenant(&self, _: &str) -> Result<Option<Tenant>, Infallible> {
        Ok(Some(Tenant(SharedSecret::new(
            "a-shared-secret-of-realistic-length-0123456789",
        ))))
    }
}

fn jwt(c: &mut Criterion) {
    let secret = SharedSecret::new("a-shared-secret-of-realistic-length-0123456789");
    let target = "/webhooks/jira/jira:issue_created?user_id=admin&user_key=admin";
    let request = CanonicalRequest::new("POST", target, "");
    let token = product_token("jira:1234-5678", &secret, &request, NOW, 180).expect("signs");
    let verifier = Verifier::new(30).at(NOW);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");

    c.bench_function("canonical_request_and_qsh", |b| {
        b.iter(|| CanonicalRequest::new("POST", black_box(target), "").qsh())
    });
    c.bench_function("hash_only_baseline_sha256", |b| {
        use sha2::Digest;
        b.iter(|| sha2::Sha256::digest(black_box(request.as_str().as_bytes())))
    });
    c.bench_function("verify_product_token", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let request = CanonicalRequest::new("POST", black_box(target), "");
                verifier
                    .verify(black_box(&token), &request, QshRule::Request, &OneTenant)
                    .await
                    .expect("verifies")
            })
        })
    });
    c.bench_function("sign_app_token", |b| {
        b.iter(|| {
            let request =
                CanonicalRequest::new("POST", black_box("/rest/api/2/issue/KAN-1/comment"), "");
            app_token("hookline", "jira:1234-5678", &secret, &request, NOW).expect("signs")
        })
    });
}

criterion_group!(benches, jwt);
criterion_main!(benches);
