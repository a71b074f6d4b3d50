//! The cluster CA and the API server's serving certificate.
//!
//! Layout under `DIR/pki/`: `ca.crt`, `ca.key`, `server.crt`, `server.key`
//! (PEM; keys PKCS#8, mode 0600). The CA is created once and then kept: every
//! kubeconfig handed out trusts it. The serving certificate is re-issued by
//! the same CA whenever it no longer fits (names missing, expiring soon,
//! damaged, or not from this CA). Keys are ECDSA P-256.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use crate::files::{create_private_dir, read_optional, write_atomic};

/// How long a new CA is valid.
pub const CA_VALIDITY: Duration = Duration::days(10 * 365);
/// How long a new serving certificate is valid.
pub const SERVER_VALIDITY: Duration = Duration::days(365);
/// A serving certificate this close to expiry is replaced at start.
pub const RENEW_BEFORE: Duration = Duration::days(30);
/// Certificates start being valid a little in the past so that clients whose
/// clock lags behind the server's accept a freshly issued one.
const BACKDATE: Duration = Duration::hours(1);

const CA_COMMON_NAME: &str = "podnet-ca";
const SERVER_COMMON_NAME: &str = "podnet-apiserver";

/// The CA clients must trust and the TLS configuration of the HTTPS listener.
pub struct Pki {
    /// The CA certificate, PEM: what a kubeconfig's `certificate-authority-data` carries.
    pub ca_pem: String,
    /// Serves the serving certificate; ALPN offers `h2` and `http/1.1`.
    pub server_config: Arc<rustls::ServerConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot {what}: {source}")]
    Generate {
        what: &'static str,
        source: rcgen::Error,
    },
    #[error("{} is not a usable {what}: {reason}", path.display())]
    Unusable {
        path: PathBuf,
        what: &'static str,
        reason: String,
    },
    #[error("{} exists but its key {} is missing: restore the key, or remove the certificate to create a new CA (every kubeconfig must then be given the new CA)", cert.display(), key.display())]
    MissingCaKey { cert: PathBuf, key: PathBuf },
    #[error("the CA certificate {} expired at {not_after}", path.display())]
    CaExpired { path: PathBuf, not_after: String },
    #[error("invalid subject alternative name {san:?}: {reason}")]
    InvalidSan { san: String, reason: String },
    #[error("building the TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// The names a serving certificate must carry for a server listening on
/// `listen`: those addresses (unspecified ones such as 0.0.0.0 name no host
/// and are skipped; pass the host's addresses instead), the `kubernetes`
/// Service IP and DNS names, `localhost` and `127.0.0.1`.
pub fn default_sans(listen: &[IpAddr], kubernetes_service_ip: IpAddr) -> Vec<String> {
    let mut sans: Vec<String> = listen
        .iter()
        .filter(|ip| !ip.is_unspecified())
        .map(|ip| ip.to_string())
        .collect();
    sans.push(kubernetes_service_ip.to_string());
    sans.extend(
        [
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "localhost",
            "127.0.0.1",
        ]
        .map(String::from),
    );
    let mut seen = BTreeSet::new();
    sans.retain(|san| seen.insert(san.clone()));
    sans
}

/// Loads the CA and serving certificate from `dir/pki`, creating the CA on
/// first start and (re-)issuing the serving certificate when it lacks one of
/// `sans` (IP addresses or DNS names), expires within [`RENEW_BEFORE`], or
/// does not belong to the CA.
pub fn ensure_pki(dir: &Path, sans: &[String]) -> Result<Pki, PkiError> {
    ensure_pki_at(dir, sans, OffsetDateTime::now_utc())
}

fn ensure_pki_at(dir: &Path, sans: &[String], now: OffsetDateTime) -> Result<Pki, PkiError> {
    let paths = PkiPaths::new(dir);
    create_private_dir(&paths.dir).map_err(|source| PkiError::Io {
        action: "creating",
        path: paths.dir.clone(),
        source,
    })?;
    let wanted = SanSet::parse(sans)?;
    let ca = load_or_create_ca(&paths, now)?;
    let (cert, key) = match load_server(&paths, &ca, &wanted, now)? {
        ServerState::Usable { cert, key } => (cert, key),
        ServerState::Reissue(why) => {
            tracing::info!(reason = %why, names = %wanted, "issuing the API server's serving certificate");
            issue_server(&paths, &ca, &wanted, now)?
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Pki {
        ca_pem: ca.cert_pem,
        server_config: Arc::new(config),
    })
}

struct PkiPaths {
    dir: PathBuf,
    ca_cert: PathBuf,
    ca_key: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
}

impl PkiPaths {
    fn new(data_dir: &Path) -> Self {
        let dir = data_dir.join("pki");
        PkiPaths {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            dir,
        }
    }
}

struct Ca {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    not_after: OffsetDateTime,
    issuer: Issuer<'static, KeyPair>,
}

fn load_or_create_ca(paths: &PkiPaths, now: OffsetDateTime) -> Result<Ca, PkiError> {
    let cert_pem = read(&paths.ca_cert)?;
    // The certificate is written after the key, so a key without a
    // certificate is the leftover of an interrupted first start.
    let Some(cert_pem) = cert_pem else {
        return create_ca(paths, now);
    };
    let Some(key_pem) = read(&paths.ca_key)? else {
        return Err(PkiError::MissingCaKey {
            cert: paths.ca_cert.clone(),
            key: paths.ca_key.clone(),
        });
    };
    let unusable = |path: &Path, what: &'static str, reason: String| PkiError::Unusable {
        path: path.to_path_buf(),
        what,
        reason,
    };
    let key = KeyPair::from_pem(&key_pem)
        .map_err(|e| unusable(&paths.ca_key, "CA key", e.to_string()))?;
    let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .map_err(|e| unusable(&paths.ca_cert, "CA certificate", e.to_string()))?;
    let x509 = parse_x509(&cert_der)
        .map_err(|reason| unusable(&paths.ca_cert, "CA certificate", reason))?;
    if !x509.is_ca() {
        return Err(unusable(
            &paths.ca_cert,
            "CA certificate",
            "it is not a CA certificate".into(),
        ));
    }
    if x509.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err(unusable(
            &paths.ca_key,
            "CA key",
            format!("it does not belong to {}", paths.ca_cert.display()),
        ));
    }
    let not_after =
        not_after(&x509).map_err(|reason| unusable(&paths.ca_cert, "CA certificate", reason))?;
    if not_after <= now {
        return Err(PkiError::CaExpired {
            path: paths.ca_cert.clone(),
            not_after: not_after.to_string(),
        });
    }
    if not_after - now < RENEW_BEFORE {
        tracing::warn!(path = %paths.ca_cert.display(), %not_after, "the cluster CA expires soon; serving certificates cannot outlive it");
    }
    drop(x509);
    let issuer = Issuer::from_ca_cert_der(&cert_der, key)
        .map_err(|e| unusable(&paths.ca_cert, "CA certificate", e.to_string()))?;
    Ok(Ca {
        cert_pem,
        cert_der,
        not_after,
        issuer,
    })
}

fn create_ca(paths: &PkiPaths, now: OffsetDateTime) -> Result<Ca, PkiError> {
    let key = generate_key("generate the CA key")?;
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name(CA_COMMON_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    params.not_before = now - BACKDATE;
    params.not_after = now + CA_VALIDITY;
    let cert = params
        .self_signed(&key)
        .map_err(|source| PkiError::Generate {
            what: "sign the CA certificate",
            source,
        })?;
    write(&paths.ca_key, key.serialize_pem().as_bytes(), 0o600)?;
    write(&paths.ca_cert, cert.pem().as_bytes(), 0o644)?;
    tracing::info!(path = %paths.ca_cert.display(), "created the cluster CA");
    Ok(Ca {
        cert_pem: cert.pem(),
        cert_der: cert.der().clone(),
        not_after: params.not_after,
        issuer: Issuer::new(params, key),
    })
}

enum ServerState {
    Usable {
        cert: CertificateDer<'static>,
        key: PrivateKeyDer<'static>,
    },
    /// Why a new serving certificate is needed.
    Reissue(String),
}

/// Whether the serving certificate on disk can be used as is. A damaged or
/// foreign one is replaced rather than refused: the server owns these files
/// and the CA alone is what clients depend on.
fn load_server(
    paths: &PkiPaths,
    ca: &Ca,
    wanted: &SanSet,
    now: OffsetDateTime,
) -> Result<ServerState, PkiError> {
    let (Some(cert_pem), Some(key_pem)) = (read(&paths.server_cert)?, read(&paths.server_key)?)
    else {
        return Ok(ServerState::Reissue("no serving certificate yet".into()));
    };
    let cert = match CertificateDer::from_pem_slice(cert_pem.as_bytes()) {
        Ok(cert) => cert,
        Err(e) => return Ok(ServerState::Reissue(format!("server.crt: {e}"))),
    };
    let key = match KeyPair::from_pem(&key_pem) {
        Ok(key) => key,
        Err(e) => return Ok(ServerState::Reissue(format!("server.key: {e}"))),
    };
    if let Some(why) = server_unfit(&cert, &key, ca, wanted, now) {
        return Ok(ServerState::Reissue(why));
    }
    Ok(ServerState::Usable {
        cert,
        key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
    })
}

fn server_unfit(
    cert: &CertificateDer<'_>,
    key: &KeyPair,
    ca: &Ca,
    wanted: &SanSet,
    now: OffsetDateTime,
) -> Option<String> {
    let x509 = match parse_x509(cert) {
        Ok(x509) => x509,
        Err(reason) => return Some(format!("server.crt: {reason}")),
    };
    let ca_x509 = match parse_x509(&ca.cert_der) {
        Ok(x509) => x509,
        Err(reason) => return Some(format!("ca.crt: {reason}")),
    };
    if x509.verify_signature(Some(ca_x509.public_key())).is_err() {
        return Some("the serving certificate was not issued by the cluster CA".into());
    }
    if x509.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Some("server.key does not belong to server.crt".into());
    }
    match not_after(&x509) {
        Ok(not_after) if not_after - now < RENEW_BEFORE => {
            return Some(format!("the serving certificate expires at {not_after}"));
        }
        Ok(_) => {}
        Err(reason) => return Some(format!("server.crt: {reason}")),
    }
    let present = match SanSet::of_certificate(&x509) {
        Ok(present) => present,
        Err(reason) => return Some(format!("server.crt: {reason}")),
    };
    let missing: Vec<String> = wanted
        .0
        .difference(&present.0)
        .map(ToString::to_string)
        .collect();
    if !missing.is_empty() {
        return Some(format!(
            "the serving certificate lacks {}",
            missing.join(", ")
        ));
    }
    None
}

fn issue_server(
    paths: &PkiPaths,
    ca: &Ca,
    wanted: &SanSet,
    now: OffsetDateTime,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), PkiError> {
    let key = generate_key("generate the serving key")?;
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name(SERVER_COMMON_NAME);
    params.subject_alt_names = wanted.to_rcgen()?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - BACKDATE;
    params.not_after = (now + SERVER_VALIDITY).min(ca.not_after);
    let cert = params
        .signed_by(&key, &ca.issuer)
        .map_err(|source| PkiError::Generate {
            what: "sign the serving certificate",
            source,
        })?;
    write(&paths.server_key, key.serialize_pem().as_bytes(), 0o600)?;
    write(&paths.server_cert, cert.pem().as_bytes(), 0o644)?;
    Ok((
        cert.der().clone(),
        PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
    ))
}

fn generate_key(what: &'static str) -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|source| PkiError::Generate { what, source })
}

fn common_name(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn
}

fn parse_x509<'a>(der: &'a CertificateDer<'_>) -> Result<X509Certificate<'a>, String> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, cert)| cert)
        .map_err(|e| e.to_string())
}

fn not_after(x509: &X509Certificate<'_>) -> Result<OffsetDateTime, String> {
    OffsetDateTime::from_unix_timestamp(x509.validity().not_after.timestamp())
        .map_err(|e| e.to_string())
}

fn read(path: &Path) -> Result<Option<String>, PkiError> {
    read_optional(path).map_err(|source| PkiError::Io {
        action: "reading",
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    write_atomic(path, contents, mode).map_err(|source| PkiError::Io {
        action: "writing",
        path: path.to_path_buf(),
        source,
    })
}

/// One subject alternative name, compared as certificates compare them:
/// IPs by value, DNS names without regard to case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum San {
    Ip(IpAddr),
    Dns(String),
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Ip(ip) => write!(f, "IP {ip}"),
            San::Dns(name) => write!(f, "DNS {name}"),
        }
    }
}

struct SanSet(BTreeSet<San>);

impl SanSet {
    fn parse(sans: &[String]) -> Result<Self, PkiError> {
        let mut set = BTreeSet::new();
        for san in sans {
            let san = san.trim();
            let parsed = match san.parse::<IpAddr>() {
                Ok(ip) => San::Ip(ip),
                Err(_) => {
                    let name = san.to_ascii_lowercase();
                    let invalid = |reason: &str| PkiError::InvalidSan {
                        san: san.to_string(),
                        reason: reason.to_string(),
                    };
                    if name.is_empty() {
                        return Err(invalid("empty name"));
                    }
                    if !name.bytes().all(|b| b.is_ascii_graphic()) {
                        return Err(invalid("not an IP address, and a DNS name must be printable ASCII without spaces"));
                    }
                    San::Dns(name)
                }
            };
            set.insert(parsed);
        }
        Ok(SanSet(set))
    }

    fn of_certificate(x509: &X509Certificate<'_>) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        let Some(extension) = x509.subject_alternative_name().map_err(|e| e.to_string())? else {
            return Ok(SanSet(set));
        };
        for name in &extension.value.general_names {
            match name {
                GeneralName::DNSName(dns) => {
                    set.insert(San::Dns(dns.to_ascii_lowercase()));
                }
                GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => IpAddr::from(<[u8; 4]>::try_from(*bytes).expect("length checked")),
                        16 => IpAddr::from(<[u8; 16]>::try_from(*bytes).expect("length checked")),
                        n => return Err(format!("an IP address SAN has {n} bytes")),
                    };
                    set.insert(San::Ip(ip));
                }
                _ => {}
            }
        }
        Ok(SanSet(set))
    }

    fn to_rcgen(&self) -> Result<Vec<SanType>, PkiError> {
        self.0
            .iter()
            .map(|san| match san {
                San::Ip(ip) => Ok(SanType::IpAddress(*ip)),
                San::Dns(name) => {
                    name.as_str()
                        .try_into()
                        .map(SanType::DnsName)
                        .map_err(|e: rcgen::Error| PkiError::InvalidSan {
                            san: name.clone(),
                            reason: e.to_string(),
                        })
                }
            })
            .collect()
    }
}

impl fmt::Display for SanSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn sans(extra: &[&str]) -> Vec<String> {
        let mut sans = default_sans(
            &["127.0.0.1".parse().unwrap()],
            "10.96.0.1".parse().unwrap(),
        );
        sans.extend(extra.iter().map(|s| s.to_string()));
        sans
    }

    fn read_files(dir: &Path) -> [Vec<u8>; 4] {
        ["ca.crt", "ca.key", "server.crt", "server.key"]
            .map(|name| fs::read(dir.join("pki").join(name)).unwrap())
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn server_names(dir: &Path) -> BTreeSet<San> {
        let pem = fs::read(dir.join("pki/server.crt")).unwrap();
        let der = CertificateDer::from_pem_slice(&pem).unwrap();
        let x509 = parse_x509(&der).unwrap();
        SanSet::of_certificate(&x509).unwrap().0
    }

    /// Whether server.crt verifies against ca.crt.
    fn issued_by_ca(dir: &Path) -> bool {
        let ca_pem = fs::read(dir.join("pki/ca.crt")).unwrap();
        let ca_der = CertificateDer::from_pem_slice(&ca_pem).unwrap();
        let ca = parse_x509(&ca_der).unwrap();
        let pem = fs::read(dir.join("pki/server.crt")).unwrap();
        let der = CertificateDer::from_pem_slice(&pem).unwrap();
        let server = parse_x509(&der).unwrap();
        server.verify_signature(Some(ca.public_key())).is_ok()
    }

    #[test]
    fn first_start_creates_ca_and_serving_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let pki = ensure_pki(dir.path(), &sans(&["192.0.2.7"])).unwrap();

        let pki_dir = dir.path().join("pki");
        assert_eq!(
            pki.ca_pem,
            fs::read_to_string(pki_dir.join("ca.crt")).unwrap()
        );
        assert!(pki.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(mode(&pki_dir.join("ca.key")), 0o600);
        assert_eq!(mode(&pki_dir.join("server.key")), 0o600);
        assert_eq!(mode(&pki_dir.join("ca.crt")), 0o644);
        assert_eq!(mode(&pki_dir.join("server.crt")), 0o644);
        assert_eq!(mode(&pki_dir), 0o700);
        assert_eq!(
            pki.server_config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert!(issued_by_ca(dir.path()));

        let names = server_names(dir.path());
        for ip in ["127.0.0.1", "10.96.0.1", "192.0.2.7"] {
            assert!(names.contains(&San::Ip(ip.parse().unwrap())), "{ip}");
        }
        for dns in [
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "localhost",
        ] {
            assert!(names.contains(&San::Dns(dns.into())), "{dns}");
        }

        let ca_der = CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap();
        let ca = parse_x509(&ca_der).unwrap();
        assert!(ca.is_ca());
        let ca_days = (not_after(&ca).unwrap() - OffsetDateTime::now_utc()).whole_days();
        assert!((3640..=3650).contains(&ca_days), "{ca_days}");
    }

    #[test]
    fn later_start_reuses_everything() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure_pki(dir.path(), &sans(&[])).unwrap();
        let files = read_files(dir.path());
        let second = ensure_pki(dir.path(), &sans(&[])).unwrap();
        assert_eq!(read_files(dir.path()), files);
        assert_eq!(first.ca_pem, second.ca_pem);
        // Asking for a subset of the names the certificate has is no reason to re-issue.
        ensure_pki(dir.path(), &["localhost".to_string()]).unwrap();
        assert_eq!(read_files(dir.path()), files);
    }

    #[test]
    fn new_name_reissues_serving_certificate_from_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        ensure_pki(dir.path(), &sans(&[])).unwrap();
        let [ca_crt, ca_key, server_crt, server_key] = read_files(dir.path());

        ensure_pki(dir.path(), &sans(&["10.1.2.3", "API.Example.Test"])).unwrap();
        let [ca_crt2, ca_key2, server_crt2, server_key2] = read_files(dir.path());
        assert_eq!(ca_crt, ca_crt2);
        assert_eq!(ca_key, ca_key2);
        assert_ne!(server_crt, server_crt2);
        assert_ne!(server_key, server_key2);
        assert!(issued_by_ca(dir.path()));
        let names = server_names(dir.path());
        assert!(names.contains(&San::Ip("10.1.2.3".parse().unwrap())));
        assert!(names.contains(&San::Dns("api.example.test".into())));
        assert_eq!(mode(&dir.path().join("pki/server.key")), 0o600);
    }

    #[test]
    fn expiring_serving_certificate_is_reissued() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        ensure_pki_at(dir.path(), &sans(&[]), now).unwrap();
        let before = read_files(dir.path());

        ensure_pki_at(dir.path(), &sans(&[]), now + Duration::days(300)).unwrap();
        assert_eq!(read_files(dir.path()), before, "still 65 days to go");

        ensure_pki_at(dir.path(), &sans(&[]), now + Duration::days(340)).unwrap();
        let after = read_files(dir.path());
        assert_eq!(after[0], before[0], "same CA");
        assert_ne!(after[2], before[2], "new serving certificate");
        assert!(issued_by_ca(dir.path()));
    }

    #[test]
    fn serving_certificate_of_another_ca_is_replaced() {
        let ours = tempfile::tempdir().unwrap();
        let theirs = tempfile::tempdir().unwrap();
        ensure_pki(ours.path(), &sans(&[])).unwrap();
        ensure_pki(theirs.path(), &sans(&[])).unwrap();
        for name in ["server.crt", "server.key"] {
            fs::copy(
                theirs.path().join("pki").join(name),
                ours.path().join("pki").join(name),
            )
            .unwrap();
        }
        assert!(!issued_by_ca(ours.path()));
        ensure_pki(ours.path(), &sans(&[])).unwrap();
        assert!(issued_by_ca(ours.path()));
    }

    #[test]
    fn interrupted_first_start_creates_ca_but_lost_ca_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        ensure_pki(dir.path(), &sans(&[])).unwrap();
        let pki_dir = dir.path().join("pki");

        // ca.key without ca.crt: the first start died between the two writes.
        fs::remove_file(pki_dir.join("ca.crt")).unwrap();
        ensure_pki(dir.path(), &sans(&[])).unwrap();
        assert!(issued_by_ca(dir.path()));

        fs::remove_file(pki_dir.join("ca.key")).unwrap();
        let err = ensure_pki(dir.path(), &sans(&[])).err().unwrap();
        assert!(matches!(err, PkiError::MissingCaKey { .. }), "{err}");
    }

    #[test]
    fn invalid_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "two words", "nämé"] {
            let err = ensure_pki(dir.path(), &[bad.to_string()]).err().unwrap();
            assert!(matches!(err, PkiError::InvalidSan { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn default_sans_skip_unspecified_listen_addresses() {
        let sans = default_sans(
            &["0.0.0.0".parse().unwrap(), "192.0.2.1".parse().unwrap()],
            "10.96.0.1".parse().unwrap(),
        );
        assert!(!sans.contains(&"0.0.0.0".to_string()));
        assert_eq!(sans.iter().filter(|s| *s == "127.0.0.1").count(), 1);
        assert!(sans.contains(&"192.0.2.1".to_string()));
        assert!(sans.contains(&"10.96.0.1".to_string()));
    }
}
