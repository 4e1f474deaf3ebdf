//! The `Intra-Shield` request header that private mode requires and peers send: an HMAC-SHA256,
//! under a shared secret, over the version, a timestamp, a one-time nonce, the method and the
//! path-and-query. Value format: `v1.<unix-seconds>.<32 hex nonce>.<base64url signature>`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Name of the request header that carries the signature.
pub const HEADER: &str = "Intra-Shield";
/// How far a header's timestamp may be from the verifier's clock, in seconds, either way.
pub const MAX_SKEW_SECS: u64 = 30;
/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// How many nonces a [`Verifier`] remembers at once by default: about 4,000 signed requests a
/// second sustained over the replay window.
pub const DEFAULT_REPLAY_CAPACITY: usize = 1 << 18;

/// The header format version, first field of the value and of the signed message.
const VERSION: &str = "v1";
/// Random bytes per nonce (hex-encoded in the header).
const NONCE_BYTES: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// Why a secret could not be loaded or a request was not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The request has no `Intra-Shield` header.
    #[error("missing Intra-Shield header")]
    Missing,
    /// The header is not `v1.<unix-seconds>.<32 hex nonce>.<base64url signature>`.
    #[error("malformed Intra-Shield header")]
    Malformed,
    /// The header's timestamp is more than [`MAX_SKEW_SECS`] from now.
    #[error("Intra-Shield timestamp is more than {MAX_SKEW_SECS} s from now")]
    Skewed,
    /// The signature does not match this request under the shared secret.
    #[error("Intra-Shield signature does not match the request")]
    BadSignature,
    /// The header's nonce was already accepted once.
    #[error("Intra-Shield nonce was already used")]
    Replayed,
    /// Too many nonces are live to remember another one, so the request cannot be checked for
    /// replay; it is refused rather than risk accepting a replay.
    #[error("too many Intra-Shield requests within {MAX_SKEW_SECS} s to check for replay")]
    ReplayCacheFull,
    /// The secret file could not be read.
    #[error("cannot read the intra-shield secret file {path}: {source}")]
    SecretUnreadable {
        /// The secret file.
        path: PathBuf,
        /// What reading it reported.
        source: std::io::Error,
    },
    /// The secret file holds fewer than [`MIN_SECRET_BYTES`] bytes.
    #[error(
        "the intra-shield secret in {path} is {len} bytes; at least {MIN_SECRET_BYTES} are needed. \
         Make one with: head -c 32 /dev/urandom | base64 > {path}"
    )]
    SecretTooShort {
        /// The secret file.
        path: PathBuf,
        /// Its length in bytes after trimming the trailing newline.
        len: usize,
    },
}

/// The shared secret. Its bytes are used as the HMAC key as they are (a base64 text file is
/// fine); `Debug` never shows them.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Reads the secret from a file, dropping one trailing newline (`\n` or `\r\n`); refuses a
    /// secret shorter than [`MIN_SECRET_BYTES`] with a message saying how to make one.
    pub fn from_file(path: &Path) -> Result<Self, AuthError> {
        let mut bytes = std::fs::read(path).map_err(|source| AuthError::SecretUnreadable {
            path: path.to_owned(),
            source,
        })?;
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(AuthError::SecretTooShort {
                path: path.to_owned(),
                len: bytes.len(),
            });
        }
        Ok(Self(bytes))
    }

    /// An HMAC keyed with this secret, ready to clone per message.
    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC accepts keys of any length")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

/// The HMAC over one request's fields, fed in the `v1` message layout.
fn keyed_message(
    mac: &HmacSha256,
    timestamp: &str,
    nonce: &str,
    method: &str,
    path: &str,
) -> HmacSha256 {
    let mut mac = mac.clone();
    let message = format!(
        "{VERSION}\n{timestamp}\n{nonce}\n{}\n{path}",
        method.to_ascii_uppercase()
    );
    mac.update(message.as_bytes());
    mac
}

/// Makes `Intra-Shield` header values (for requests to peers and for `kube-shields sign`).
pub struct Signer {
    mac: HmacSha256,
}

impl Signer {
    /// A signer with the shared secret.
    pub fn new(secret: &Secret) -> Self {
        Self { mac: secret.mac() }
    }

    /// The header value for one request, with a fresh random nonce; `now` is unix seconds.
    pub fn sign(&self, method: &str, path_and_query: &str, now: u64) -> String {
        let nonce = hex::encode(rand::random::<[u8; NONCE_BYTES]>());
        self.sign_with_nonce(method, path_and_query, now, &nonce)
    }

    fn sign_with_nonce(&self, method: &str, path_and_query: &str, now: u64, nonce: &str) -> String {
        let timestamp = now.to_string();
        let tag = keyed_message(&self.mac, &timestamp, nonce, method, path_and_query).finalize();
        let signature = URL_SAFE_NO_PAD.encode(tag.into_bytes());
        format!("{VERSION}.{timestamp}.{nonce}.{signature}")
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer").finish_non_exhaustive()
    }
}

/// Checks `Intra-Shield` headers: signature in constant time, timestamp within
/// [`MAX_SKEW_SECS`], and each nonce accepted once. Shared across request tasks by reference.
pub struct Verifier {
    mac: HmacSha256,
    seen: Mutex<ReplayCache>,
}

impl Verifier {
    /// A verifier with the shared secret, remembering up to [`DEFAULT_REPLAY_CAPACITY`] nonces.
    pub fn new(secret: &Secret) -> Self {
        Self::with_replay_capacity(secret, DEFAULT_REPLAY_CAPACITY)
    }

    /// A verifier that remembers at most `capacity` live nonces; past that it refuses requests
    /// with [`AuthError::ReplayCacheFull`] until older nonces leave the replay window.
    pub fn with_replay_capacity(secret: &Secret, capacity: usize) -> Self {
        Self {
            mac: secret.mac(),
            seen: Mutex::new(ReplayCache::new(capacity)),
        }
    }

    /// Accepts `header` for this request at `now` (unix seconds), or says why not.
    pub fn verify(
        &self,
        header: Option<&str>,
        method: &str,
        path_and_query: &str,
        now: u64,
    ) -> Result<(), AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let parsed = ParsedHeader::parse(header).ok_or(AuthError::Malformed)?;
        if parsed.timestamp.abs_diff(now) > MAX_SKEW_SECS {
            return Err(AuthError::Skewed);
        }
        keyed_message(
            &self.mac,
            parsed.timestamp_text,
            parsed.nonce_text,
            method,
            path_and_query,
        )
        .verify_slice(&parsed.signature)
        .map_err(|_| AuthError::BadSignature)?;
        // Only authentic headers reach the cache, so forgers cannot fill it.
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.insert(parsed.nonce, parsed.timestamp + MAX_SKEW_SECS, now)
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

/// The fields of a well-formed header value.
struct ParsedHeader<'a> {
    timestamp: u64,
    timestamp_text: &'a str,
    nonce: [u8; NONCE_BYTES],
    nonce_text: &'a str,
    signature: Vec<u8>,
}

impl<'a> ParsedHeader<'a> {
    /// Splits and decodes a header value; `None` unless every field has its exact form
    /// (decimal seconds, 32 lowercase hex digits, unpadded base64url).
    fn parse(value: &'a str) -> Option<Self> {
        let mut fields = value.split('.');
        let (version, timestamp_text, nonce_text, signature) = (
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next()?,
        );
        if version != VERSION || fields.next().is_some() {
            return None;
        }
        if timestamp_text.is_empty() || !timestamp_text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if nonce_text.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let mut nonce = [0; NONCE_BYTES];
        hex::decode_to_slice(nonce_text, &mut nonce).ok()?;
        Some(Self {
            timestamp: timestamp_text.parse().ok()?,
            timestamp_text,
            nonce,
            nonce_text,
            signature: URL_SAFE_NO_PAD.decode(signature).ok()?,
        })
    }
}

/// Nonces accepted within the replay window, each kept until its header's timestamp leaves the
/// window (after that the header is refused as skewed anyway).
struct ReplayCache {
    capacity: usize,
    /// Nonce → the last second at which its header could still be accepted.
    expiry_by_nonce: HashMap<[u8; NONCE_BYTES], u64>,
    /// The same entries, soonest expiry first, so forgetting is cheap.
    by_expiry: BinaryHeap<Reverse<(u64, [u8; NONCE_BYTES])>>,
}

impl ReplayCache {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            expiry_by_nonce: HashMap::new(),
            by_expiry: BinaryHeap::new(),
        }
    }

    /// Records a nonce that stays replayable until `expires`, first forgetting nonces expired
    /// before `now`; refuses a nonce it already holds.
    fn insert(
        &mut self,
        nonce: [u8; NONCE_BYTES],
        expires: u64,
        now: u64,
    ) -> Result<(), AuthError> {
        while let Some(Reverse((expiry, old))) = self.by_expiry.peek().copied() {
            if expiry >= now {
                break;
            }
            self.by_expiry.pop();
            self.expiry_by_nonce.remove(&old);
        }
        if self.expiry_by_nonce.contains_key(&nonce) {
            return Err(AuthError::Replayed);
        }
        if self.expiry_by_nonce.len() >= self.capacity {
            return Err(AuthError::ReplayCacheFull);
        }
        self.expiry_by_nonce.insert(nonce, expires);
        self.by_expiry.push(Reverse((expires, nonce)));
        Ok(())
    }
}

/// The current time in unix seconds (0 if the clock is before 1970).
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::io::Write;

    const NOW: u64 = 1_700_000_000;
    const NONCE: &str = "00112233445566778899aabbccddeeff";

    fn secret(byte: u8) -> Secret {
        Secret(vec![byte; MIN_SECRET_BYTES])
    }

    /// A signer and verifier sharing one secret, and a way to sign requests for them.
    struct Fixture {
        signer: Signer,
        verifier: Verifier,
    }

    impl Fixture {
        fn new() -> Self {
            Self {
                signer: Signer::new(&secret(7)),
                verifier: Verifier::new(&secret(7)),
            }
        }

        fn with_capacity(capacity: usize) -> Self {
            Self {
                verifier: Verifier::with_replay_capacity(&secret(7), capacity),
                ..Self::new()
            }
        }

        fn verify_at(&self, header: &str, now: u64) -> Result<(), AuthError> {
            self.verifier
                .verify(Some(header), "GET", "/services/?x=1", now)
        }
    }

    fn secret_file(contents: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(contents).expect("write secret");
        file
    }

    #[test]
    fn valid_header_is_accepted() {
        let fixture = Fixture::new();
        let header = fixture.signer.sign("GET", "/services/?x=1", NOW);
        assert!(fixture.verify_at(&header, NOW).is_ok());
    }

    #[test]
    fn method_case_does_not_matter() {
        let fixture = Fixture::new();
        let header = fixture.signer.sign("get", "/services/?x=1", NOW);
        assert!(fixture.verify_at(&header, NOW).is_ok());
    }

    #[test]
    fn header_has_documented_shape() {
        let header = Signer::new(&secret(7)).sign_with_nonce("GET", "/", NOW, NONCE);
        let fields: Vec<&str> = header.split('.').collect();
        assert_eq!(fields[..3], ["v1", "1700000000", NONCE]);
        assert_eq!(fields[3].len(), 43, "32 bytes of base64url without padding");
    }

    #[test]
    fn signed_nonces_are_fresh_hex() {
        let signer = Signer::new(&secret(7));
        let nonce = |header: String| header.split('.').nth(2).map(str::to_owned);
        let first = nonce(signer.sign("GET", "/", NOW)).expect("nonce field");
        assert_eq!(first.len(), 32);
        assert!(
            first
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(Some(first), nonce(signer.sign("GET", "/", NOW)));
    }

    #[test]
    fn replay_of_same_header_is_refused() {
        let fixture = Fixture::new();
        let header = fixture.signer.sign("GET", "/services/?x=1", NOW);
        assert!(fixture.verify_at(&header, NOW).is_ok());
        assert!(matches!(
            fixture.verify_at(&header, NOW + 1),
            Err(AuthError::Replayed)
        ));
    }

    #[test]
    fn nonce_is_forgotten_once_its_timestamp_leaves_the_window() {
        let fixture = Fixture::with_capacity(1);
        let first = fixture.signer.sign("GET", "/services/?x=1", NOW);
        assert!(fixture.verify_at(&first, NOW).is_ok());
        let second = fixture.signer.sign("GET", "/services/?x=1", NOW + 31);
        assert!(
            fixture.verify_at(&second, NOW + 31).is_ok(),
            "first nonce no longer held"
        );
        assert!(matches!(
            fixture.verify_at(&first, NOW + 31),
            Err(AuthError::Skewed)
        ));
    }

    #[test]
    fn full_replay_cache_refuses_rather_than_forgets() {
        let fixture = Fixture::with_capacity(1);
        let first = fixture.signer.sign("GET", "/services/?x=1", NOW);
        let second = fixture.signer.sign("GET", "/services/?x=1", NOW);
        assert!(fixture.verify_at(&first, NOW).is_ok());
        assert!(matches!(
            fixture.verify_at(&second, NOW),
            Err(AuthError::ReplayCacheFull)
        ));
        assert!(matches!(
            fixture.verify_at(&first, NOW + 30),
            Err(AuthError::Replayed)
        ));
    }

    #[rstest]
    #[case::thirty_seconds_early(NOW - 30)]
    #[case::thirty_seconds_late(NOW + 30)]
    fn skew_of_thirty_seconds_is_accepted(#[case] signed_at: u64) {
        let fixture = Fixture::new();
        let header = fixture.signer.sign("GET", "/services/?x=1", signed_at);
        assert!(fixture.verify_at(&header, NOW).is_ok());
    }

    #[rstest]
    #[case::thirty_one_seconds_early(NOW - 31)]
    #[case::thirty_one_seconds_late(NOW + 31)]
    fn skew_beyond_thirty_seconds_is_refused(#[case] signed_at: u64) {
        let fixture = Fixture::new();
        let header = fixture.signer.sign("GET", "/services/?x=1", signed_at);
        assert!(matches!(
            fixture.verify_at(&header, NOW),
            Err(AuthError::Skewed)
        ));
    }

    #[test]
    fn missing_header_is_refused() {
        let verifier = Verifier::new(&secret(7));
        let result = verifier.verify(None, "GET", "/services/", NOW);
        assert!(matches!(result, Err(AuthError::Missing)));
    }

    #[rstest]
    #[case::other_path("GET", "/services/web/")]
    #[case::other_query("GET", "/services/?x=2")]
    #[case::other_method("POST", "/services/?x=1")]
    fn header_signed_for_another_request_is_refused(#[case] method: &str, #[case] path: &str) {
        let fixture = Fixture::new();
        let header = fixture.signer.sign(method, path, NOW);
        assert!(matches!(
            fixture.verify_at(&header, NOW),
            Err(AuthError::BadSignature)
        ));
    }

    #[test]
    fn header_signed_with_another_secret_is_refused() {
        let fixture = Fixture::new();
        let forged = Signer::new(&secret(8)).sign("GET", "/services/?x=1", NOW);
        assert!(matches!(
            fixture.verify_at(&forged, NOW),
            Err(AuthError::BadSignature)
        ));
    }

    #[test]
    fn tampered_signature_is_refused() {
        let fixture = Fixture::new();
        let header = fixture
            .signer
            .sign_with_nonce("GET", "/services/?x=1", NOW, NONCE);
        let (prefix, signature) = header.rsplit_once('.').expect("four fields");
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        let forged = format!("{prefix}.{flipped}{}", &signature[1..]);
        assert!(matches!(
            fixture.verify_at(&forged, NOW),
            Err(AuthError::BadSignature)
        ));
    }

    #[test]
    fn forged_header_does_not_use_up_the_nonce() {
        let fixture = Fixture::new();
        let genuine = fixture
            .signer
            .sign_with_nonce("GET", "/services/?x=1", NOW, NONCE);
        let forged = Signer::new(&secret(8)).sign_with_nonce("GET", "/services/?x=1", NOW, NONCE);
        assert!(matches!(
            fixture.verify_at(&forged, NOW),
            Err(AuthError::BadSignature)
        ));
        assert!(fixture.verify_at(&genuine, NOW).is_ok());
    }

    #[rstest]
    #[case::empty("")]
    #[case::garbage("hello")]
    #[case::wrong_version("v2.1700000000.00112233445566778899aabbccddeeff.c2lnbmF0dXJl")]
    #[case::too_few_fields("v1.1700000000.00112233445566778899aabbccddeeff")]
    #[case::too_many_fields("v1.1700000000.00112233445566778899aabbccddeeff.c2ln.extra")]
    #[case::signed_timestamp("v1.+1700000000.00112233445566778899aabbccddeeff.c2lnbmF0dXJl")]
    #[case::timestamp_overflow(
        "v1.99999999999999999999.00112233445566778899aabbccddeeff.c2lnbmF0dXJl"
    )]
    #[case::short_nonce("v1.1700000000.0011.c2lnbmF0dXJl")]
    #[case::uppercase_nonce("v1.1700000000.00112233445566778899AABBCCDDEEFF.c2lnbmF0dXJl")]
    #[case::non_hex_nonce("v1.1700000000.zz112233445566778899aabbccddeeff.c2lnbmF0dXJl")]
    #[case::padded_signature("v1.1700000000.00112233445566778899aabbccddeeff.c2lnbmF0dXJlcw==")]
    #[case::not_base64url("v1.1700000000.00112233445566778899aabbccddeeff.c2ln+mF0/XJl")]
    fn malformed_header_is_refused(#[case] header: &str) {
        let fixture = Fixture::new();
        assert!(matches!(
            fixture.verify_at(header, NOW),
            Err(AuthError::Malformed)
        ));
    }

    #[rstest]
    #[case::trailing_newline(b"0123456789abcdef0123456789abcdef\n")]
    #[case::trailing_crlf(b"0123456789abcdef0123456789abcdef\r\n")]
    #[case::no_newline(b"0123456789abcdef0123456789abcdef")]
    fn secret_file_drops_one_trailing_newline(#[case] contents: &[u8]) {
        let file = secret_file(contents);
        let secret = Secret::from_file(file.path()).expect("32-byte secret loads");
        assert_eq!(secret.0, b"0123456789abcdef0123456789abcdef");
    }

    #[test]
    fn short_secret_is_refused_with_how_to_make_one() {
        let file = secret_file(b"0123456789abcdef0123456789abcde\n");
        let error = Secret::from_file(file.path()).expect_err("31 bytes is too short");
        let path = file.path().display();
        assert_eq!(
            error.to_string(),
            format!(
                "the intra-shield secret in {path} is 31 bytes; at least 32 are needed. \
                 Make one with: head -c 32 /dev/urandom | base64 > {path}"
            )
        );
    }

    #[test]
    fn missing_secret_file_names_the_file() {
        let error = Secret::from_file(Path::new("/nonexistent/intra-secret")).expect_err("no file");
        assert!(
            error.to_string().starts_with(
                "cannot read the intra-shield secret file /nonexistent/intra-secret: "
            )
        );
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let secret = Secret(b"super-secret-value-super-secret-value".to_vec());
        let shown = format!(
            "{secret:?} {:?} {:?}",
            Signer::new(&secret),
            Verifier::new(&secret)
        );
        assert_eq!(
            shown,
            "Secret(<37 bytes redacted>) Signer { .. } Verifier { .. }"
        );
    }

    #[test]
    fn now_unix_is_after_2023() {
        assert!(now_unix() > NOW);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn verifier() -> Verifier {
            Verifier::new(&secret(7))
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            /// No header anyone can write without the secret is accepted, and none crashes the check.
            #[test]
            fn arbitrary_headers_are_refused(header in "\\PC{0,200}") {
                prop_assert!(verifier().verify(Some(&header), "GET", "/services/", NOW).is_err());
            }

            /// Headers shaped like real ones (version, time, nonce, signature) but not signed
            /// with the secret are refused too.
            #[test]
            fn well_shaped_forgeries_are_refused(nonce in "[0-9a-f]{32}", signature in "[A-Za-z0-9_-]{43}") {
                let header = format!("v1.{NOW}.{nonce}.{signature}");
                prop_assert!(verifier().verify(Some(&header), "GET", "/services/", NOW).is_err());
            }

            /// Changing any one character of a valid header makes it invalid.
            #[test]
            fn any_changed_character_breaks_a_signature(at in any::<prop::sample::Index>(), by in 1u8..=127) {
                let header = Signer::new(&secret(7)).sign("GET", "/services/", NOW);
                let mut bytes = header.into_bytes();
                let at = at.index(bytes.len());
                bytes[at] = (bytes[at] + by) % 128;
                if let Ok(changed) = String::from_utf8(bytes) {
                    prop_assert!(verifier().verify(Some(&changed), "GET", "/services/", NOW).is_err());
                }
            }

            /// Every signature made with the secret is accepted once, for its method and path.
            #[test]
            fn signatures_round_trip(path in "/[a-z0-9/._-]{0,60}", skew in 0u64..=MAX_SKEW_SECS) {
                let header = Signer::new(&secret(7)).sign("GET", &path, NOW - skew);
                let verifier = verifier();
                prop_assert!(verifier.verify(Some(&header), "GET", &path, NOW).is_ok());
                prop_assert!(verifier.verify(Some(&header), "GET", &path, NOW).is_err());
            }
        }
    }
}
