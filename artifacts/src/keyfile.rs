//! Key files: generating a signing key pair, loading a private key (PKCS#8 PEM) and public key
//! files ([`PublicKeyFile`] JSON).
//!
//! Manifests are signed with Ed25519 or ECDSA P-256 keys ([`ManifestKey`]); a P-256 key is the
//! PKCS#8 PEM `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` writes (or
//! `tessera keygen --algorithm ecdsa-p256`). Inference tokens (`tessera token`) stay Ed25519.
//!
//! An Ed25519 private key is written as PKCS#8 v1 (RFC 8410 `OneAsymmetricKey` version 0, the seed only,
//! no public key attribute): the form `openssl genpkey -algorithm ed25519` writes and that
//! OpenSSL 3.0 (`openssl pkey`, `pkeyutl`) and Python `cryptography` read. Keys written by
//! earlier versions (PKCS#8 v2, with the public key) still load; the public key in a v2 file
//! must match the seed.
//!
//! The private key is written with mode 0600 on Unix and never replaces an existing file unless
//! asked to. This module does not encrypt keys or talk to a KMS/HSM; a key file is as safe as the
//! directory it sits in.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::spki::der::zeroize::Zeroizing;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, KeypairBytes};
use ed25519_dalek::SigningKey;
use tessera_core::dsse::EnvelopeSigner;
use tessera_core::keys::{PublicKey, PublicKeyFile, TrustedKeys, ALGORITHM_ECDSA_P256};

use crate::atomic::TempFile;
use crate::error::ArtifactsError;

/// File name of the private key `keygen` writes.
pub const PRIVATE_KEY_FILE: &str = "tessera.key";
/// File name of the public key `keygen` writes.
pub const PUBLIC_KEY_FILE: &str = "tessera.pub.json";

/// A private key that signs manifests.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ManifestKey {
    /// Ed25519 (what `tessera keygen` writes by default).
    Ed25519(SigningKey),
    /// ECDSA P-256 with SHA-256 (DER signatures).
    EcdsaP256(p256::ecdsa::SigningKey),
}

impl EnvelopeSigner for ManifestKey {
    fn public_key(&self) -> PublicKey {
        match self {
            Self::Ed25519(key) => key.public_key(),
            Self::EcdsaP256(key) => key.public_key(),
        }
    }

    fn sign_message(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Ed25519(key) => key.sign_message(message),
            Self::EcdsaP256(key) => key.sign_message(message),
        }
    }
}

/// The algorithm of a key [`generate_key_pair`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// Ed25519 (the default; also signs inference tokens).
    #[default]
    Ed25519,
    /// ECDSA P-256, the key type of Sigstore and OpenSSF Model Signing (manifests only).
    EcdsaP256,
}

/// What [`generate_key_pair`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedKey {
    /// Id of the new key ([`PublicKey::key_id`]).
    pub keyid: String,
    /// The private key (PKCS#8 v1 PEM).
    pub private_key: PathBuf,
    /// The public key ([`PublicKeyFile`] JSON).
    pub public_key: PathBuf,
}

/// Generates an Ed25519 key pair from OS randomness and writes [`PRIVATE_KEY_FILE`] and
/// [`PUBLIC_KEY_FILE`] into `dir` (created if needed).
///
/// Without `force`, fails with [`ArtifactsError::KeyFileExists`] if either file exists, and
/// writes neither. With `force`, replaces both atomically.
pub fn generate_key_pair(dir: &Path, force: bool) -> Result<GeneratedKey, ArtifactsError> {
    generate_key_pair_with(dir, force, KeyAlgorithm::Ed25519)
}

/// [`generate_key_pair`] for a key of `algorithm`. A P-256 private key is written as the
/// unencrypted PKCS#8 PEM OpenSSL writes and reads.
pub fn generate_key_pair_with(
    dir: &Path,
    force: bool,
    algorithm: KeyAlgorithm,
) -> Result<GeneratedKey, ArtifactsError> {
    let private_path = dir.join(PRIVATE_KEY_FILE);
    let public_path = dir.join(PUBLIC_KEY_FILE);
    if !force {
        for path in [&private_path, &public_path] {
            if path.symlink_metadata().is_ok() {
                return Err(ArtifactsError::KeyFileExists { path: path.clone() });
            }
        }
    }
    fs::create_dir_all(dir).map_err(|e| ArtifactsError::io("cannot create directory", dir, e))?;

    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| ArtifactsError::Io {
        action: "cannot get randomness for",
        path: private_path.clone(),
        source: io::Error::other(e.to_string()),
    })?;
    // `SigningKey` wipes itself on drop (ed25519-dalek's `zeroize` feature); the PEM below is a
    // `Zeroizing<String>`. The stack copy of the seed is cleared best-effort.
    let cannot_encode = |e: &dyn std::fmt::Display| ArtifactsError::Io {
        action: "cannot encode",
        path: private_path.clone(),
        source: io::Error::other(e.to_string()),
    };
    let (pem, public) = match algorithm {
        KeyAlgorithm::Ed25519 => {
            let key = SigningKey::from_bytes(&seed);
            seed.fill(0);
            let pem = private_key_pem(&key).map_err(|e| cannot_encode(&e))?;
            (pem, key.public_key())
        }
        KeyAlgorithm::EcdsaP256 => {
            // 32 random bytes are a valid scalar unless 0 or >= n (probability ~2^-32): refused
            // then, never biased.
            let key = p256::ecdsa::SigningKey::from_slice(&seed);
            seed.fill(0);
            let key = key.map_err(|e| cannot_encode(&e))?;
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| cannot_encode(&e))?;
            (pem, key.public_key())
        }
    };
    let public = PublicKeyFile::of(&public);
    let mut public_json = serde_json::to_vec_pretty(&public).map_err(|e| ArtifactsError::Io {
        action: "cannot encode",
        path: public_path.clone(),
        source: io::Error::other(e),
    })?;
    public_json.push(b'\n');

    write_key_file(&private_path, pem.as_bytes(), true, force)?;
    write_key_file(&public_path, &public_json, false, force)?;
    Ok(GeneratedKey {
        keyid: public.keyid,
        private_key: private_path,
        public_key: public_path,
    })
}

/// Encodes `key` as a PKCS#8 v1 PEM (`-----BEGIN PRIVATE KEY-----`, version 0, no public key):
/// what `keygen` writes. The result wipes itself on drop.
pub fn private_key_pem(key: &SigningKey) -> Result<Zeroizing<String>, ed25519_dalek::pkcs8::Error> {
    let mut seed = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    let pem = seed.to_pkcs8_pem(LineEnding::LF);
    // Best-effort, as for the seed in `generate_key_pair` (ed25519's own `zeroize` is off).
    seed.secret_key.fill(0);
    pem
}

/// Loads a PKCS#8 PEM Ed25519 private key: v1 (what `keygen` and `openssl genpkey` write) or v2
/// (with the public key, which must match; what `keygen` wrote before it switched to v1).
pub fn load_signing_key(path: &Path) -> Result<SigningKey, ArtifactsError> {
    let text = read_private_key(path)?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| not_pem(path, e.to_string()))
}

/// Loads a PKCS#8 PEM private key that signs manifests: Ed25519 (as [`load_signing_key`]) or
/// ECDSA P-256 (what `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` writes).
pub fn load_manifest_key(path: &Path) -> Result<ManifestKey, ArtifactsError> {
    let text = read_private_key(path)?;
    let ed25519 = match SigningKey::from_pkcs8_pem(&text) {
        Ok(key) => return Ok(ManifestKey::Ed25519(key)),
        Err(e) => e,
    };
    p256::ecdsa::SigningKey::from_pkcs8_pem(&text)
        .map(ManifestKey::EcdsaP256)
        .map_err(|p256| {
            not_pem(
                path,
                format!("not an Ed25519 key ({ed25519}) nor a {ALGORITHM_ECDSA_P256} key ({p256})"),
            )
        })
}

fn not_pem(path: &Path, detail: String) -> ArtifactsError {
    ArtifactsError::PrivateKeyNotPem {
        path: path.to_path_buf(),
        detail,
    }
}

/// The text of a private key file (zeroized on drop).
fn read_private_key(path: &Path) -> Result<Zeroizing<String>, ArtifactsError> {
    let bytes = fs::read(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => ArtifactsError::PrivateKeyMissing {
            path: path.to_path_buf(),
        },
        _ => ArtifactsError::PrivateKeyUnreadable {
            path: path.to_path_buf(),
            source,
        },
    })?;
    String::from_utf8(bytes)
        .map(Zeroizing::new)
        .map_err(|_| not_pem(path, "the file is not text".into()))
}

/// Loads one public key file and checks the key (algorithm, encoding, key id).
pub fn load_public_key(path: &Path) -> Result<PublicKeyFile, ArtifactsError> {
    let bytes =
        fs::read(path).map_err(|e| ArtifactsError::io("cannot read public key", path, e))?;
    let file: PublicKeyFile =
        serde_json::from_slice(&bytes).map_err(|e| ArtifactsError::PublicKeyFileMalformed {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    file.public_key().map_err(|source| ArtifactsError::Key {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(file)
}

/// Loads public key files into the set of keys trusted to sign manifests.
pub fn load_trusted_keys(paths: &[PathBuf]) -> Result<TrustedKeys, ArtifactsError> {
    let mut trusted = TrustedKeys::new();
    for path in paths {
        let file = load_public_key(path)?;
        let key = file.public_key().map_err(|source| ArtifactsError::Key {
            path: path.clone(),
            source,
        })?;
        trusted.insert(key);
    }
    Ok(trusted)
}

/// Writes a key file: `create_new` (never clobbering) unless `force`, then temp + rename.
fn write_key_file(
    path: &Path,
    bytes: &[u8],
    private: bool,
    force: bool,
) -> Result<(), ArtifactsError> {
    if force {
        let mut temp = TempFile::new_in(crate::atomic::parent_dir(path), private)?;
        temp.write_all(bytes)?;
        return temp.persist(path);
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => ArtifactsError::KeyFileExists {
            path: path.to_path_buf(),
        },
        _ => ArtifactsError::io("cannot create", path, e),
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| ArtifactsError::io("cannot write", path, e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use tessera_core::ErrorCode as _;

    use super::*;

    #[test]
    fn generated_key_loads_back_and_matches_its_public_file() {
        let dir = tempfile::tempdir().unwrap();
        let generated = generate_key_pair(dir.path(), false).unwrap();
        let key = load_signing_key(&generated.private_key).unwrap();
        let public = load_public_key(&generated.public_key).unwrap();
        assert_eq!(public.keyid, generated.keyid);
        assert_eq!(public.verifying_key().unwrap(), key.verifying_key());
        let pem = fs::read_to_string(&generated.private_key).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    }

    /// The DER inside a PEM private key file.
    fn pem_der(pem: &str) -> Vec<u8> {
        use base64::Engine as _;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    }

    /// `der` as a `PRIVATE KEY` PEM.
    fn der_pem(der: &[u8]) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn keygen_writes_pkcs8_v1_without_the_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let generated = generate_key_pair(dir.path(), false).unwrap();
        let der = pem_der(&fs::read_to_string(&generated.private_key).unwrap());
        // RFC 8410 §7: SEQUENCE { INTEGER 0 (v1), AlgorithmIdentifier { 1.3.101.112 },
        // OCTET STRING { OCTET STRING (32-byte seed) } }, and nothing after it.
        let prefix = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        assert_eq!(der.len(), 48, "{der:02x?}");
        assert_eq!(der[..16], prefix, "{der:02x?}");
        let key = load_signing_key(&generated.private_key).unwrap();
        assert_eq!(der[16..], key.to_bytes());
    }

    #[test]
    fn pkcs8_v2_keys_from_earlier_versions_still_load_and_must_be_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_bytes(&[7; 32]);
        // ed25519-dalek's own encoder writes v2 (version 1, with the public key): what keygen
        // wrote before.
        let v2 = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let mut der = pem_der(&v2);
        assert_eq!(der[2..5], [0x02, 0x01, 0x01], "not v2: {der:02x?}");
        let v2_path = dir.path().join("v2.key");
        fs::write(&v2_path, v2.as_bytes()).unwrap();
        assert_eq!(load_signing_key(&v2_path).unwrap(), key);

        let v1_path = dir.path().join("v1.key");
        fs::write(&v1_path, private_key_pem(&key).unwrap().as_bytes()).unwrap();
        assert_eq!(load_signing_key(&v1_path).unwrap(), key);

        // A v2 file whose public key is not the seed's is refused.
        let last = der.len() - 1;
        der[last] ^= 1;
        let mismatched = dir.path().join("mismatched.key");
        fs::write(&mismatched, der_pem(&der)).unwrap();
        assert_eq!(
            load_signing_key(&mismatched).unwrap_err().code(),
            "private-key-not-pem"
        );
    }

    #[cfg(unix)]
    #[test]
    fn private_key_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        for force in [false, true] {
            let generated = generate_key_pair(dir.path(), force).unwrap();
            let mode = fs::metadata(&generated.private_key)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "force={force}");
        }
    }

    #[test]
    fn refuses_to_overwrite_either_file_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let first = generate_key_pair(dir.path(), false).unwrap();
        let err = generate_key_pair(dir.path(), false).unwrap_err();
        assert_eq!(err.code(), "key-file-exists");
        assert_eq!(
            load_public_key(&first.public_key).unwrap().keyid,
            first.keyid
        );

        let lone = tempfile::tempdir().unwrap();
        fs::write(lone.path().join(PUBLIC_KEY_FILE), "{}").unwrap();
        assert_eq!(
            generate_key_pair(lone.path(), false).unwrap_err().code(),
            "key-file-exists"
        );
        assert!(!lone.path().join(PRIVATE_KEY_FILE).exists());

        let second = generate_key_pair(dir.path(), true).unwrap();
        assert_ne!(second.keyid, first.keyid);
        assert_eq!(
            load_public_key(&second.public_key).unwrap().keyid,
            second.keyid
        );
    }

    #[test]
    fn bad_private_key_files_have_distinct_codes() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("text.key");
        fs::write(&text, "hello").unwrap();
        let binary = dir.path().join("binary.key");
        fs::write(&binary, [0xff, 0x00, 0xfe]).unwrap();
        let public = generate_key_pair(dir.path(), false).unwrap().public_key;
        let cases = [
            (dir.path().join("absent.key"), "private-key-missing"),
            (dir.path().to_path_buf(), "private-key-unreadable"),
            (text, "private-key-not-pem"),
            (binary, "private-key-not-pem"),
            (public, "private-key-not-pem"),
        ];
        for (path, code) in cases {
            let err = load_signing_key(&path).unwrap_err();
            assert_eq!(err.code(), code, "{}: {err}", path.display());
        }
    }

    #[test]
    fn bad_public_key_files_have_distinct_codes() {
        let dir = tempfile::tempdir().unwrap();
        let generated = generate_key_pair(dir.path(), false).unwrap();
        let mut wrong_id = load_public_key(&generated.public_key).unwrap();
        wrong_id.keyid = "00".repeat(32);
        let wrong_id_path = dir.path().join("wrong-id.json");
        fs::write(&wrong_id_path, serde_json::to_vec(&wrong_id).unwrap()).unwrap();
        let not_json = dir.path().join("not.json");
        fs::write(&not_json, "ed25519 AAAA").unwrap();
        let cases = [
            (dir.path().join("absent.json"), "io"),
            (not_json, "public-key-malformed"),
            (wrong_id_path, "key-id-mismatch"),
        ];
        for (path, code) in cases {
            let err = load_public_key(&path).unwrap_err();
            assert_eq!(err.code(), code, "{}: {err}", path.display());
        }
    }
}
