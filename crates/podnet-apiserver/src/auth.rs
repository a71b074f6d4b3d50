//! Bearer tokens and the admin kubeconfig.
//!
//! Tokens live in `DIR/tokens` (mode 0600) in the format of kube-apiserver's
//! `--token-auth-file`: one CSV record per line, `token,user,uid` optionally
//! followed by a fourth column holding the groups, comma-separated and so
//! quoted: `s3cr3t,system:node:n1,5c1e…,"system:nodes,extra"`. Blank lines
//! and lines starting with `#` are ignored. [`issue_token`] appends a record;
//! a running server picks it up without restart because [`Tokens`] rereads
//! the file when it changed on disk.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use rand::RngCore;
use serde::Serialize;

use crate::files::{create_private_dir, read_optional, sync_parent, write_atomic};

/// The token file's name in the data directory.
pub const TOKENS_FILE: &str = "tokens";
/// The admin kubeconfig's name in the data directory.
pub const KUBECONFIG_FILE: &str = "kubeconfig";
/// The cluster, user and context name in the kubeconfigs the server writes.
pub const KUBECONFIG_NAME: &str = "podnet";

pub const ADMIN_USER: &str = "admin";
/// Members are allowed everything by Kubernetes' default RBAC policy.
pub const MASTERS_GROUP: &str = "system:masters";
/// Every user authenticated by token is also in this group, as in Kubernetes.
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";
pub const ANONYMOUS_USER: &str = "system:anonymous";
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";

/// How stale the in-memory tokens may get while every request presents a
/// known token: a token removed from the file stops working within this.
const REVOCATION_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
}

impl User {
    /// The user of requests without credentials, as Kubernetes names it.
    pub fn anonymous() -> Self {
        User {
            name: ANONYMOUS_USER.to_string(),
            uid: String::new(),
            groups: vec![UNAUTHENTICATED_GROUP.to_string()],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{}:{line}: {reason}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidName {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("encoding the kubeconfig: {0}")]
    Kubeconfig(#[from] serde_yaml::Error),
}

/// The tokens the server accepts, reread from `DIR/tokens` when the file changes.
pub struct Tokens {
    path: PathBuf,
    state: RwLock<TokenState>,
    last_checked: Mutex<Instant>,
}

struct TokenState {
    entries: Vec<TokenEntry>,
    /// What the file looked like when `entries` were read; None if it did not exist.
    stamp: Option<FileStamp>,
}

#[derive(Debug, Clone)]
struct TokenEntry {
    token: String,
    user: User,
}

/// Appends change the length, rewrites by rename change the inode, and edits
/// in place change the modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: SystemTime,
    len: u64,
    inode: u64,
}

impl Tokens {
    /// Reads `dir/tokens`. A missing file means no tokens yet: it is read
    /// once [`issue_token`] creates it.
    pub fn load(dir: &Path) -> Result<Tokens, AuthError> {
        let path = dir.join(TOKENS_FILE);
        let (entries, stamp) = read_token_file(&path)?;
        Ok(Tokens {
            path,
            state: RwLock::new(TokenState { entries, stamp }),
            last_checked: Mutex::new(Instant::now()),
        })
    }

    /// The user whose token an `Authorization: Bearer <token>` header
    /// carries; None without such a header or for an unknown token.
    pub fn authenticate(&self, authorization_header: Option<&str>) -> Option<User> {
        let token = bearer_token(authorization_header?)?;
        if self.due_for_check() {
            self.reload_if_changed();
        }
        if let Some(user) = self.lookup(token) {
            return Some(user);
        }
        // Another process may have issued this token since the last read.
        if self.reload_if_changed() {
            self.lookup(token)
        } else {
            None
        }
    }

    fn lookup(&self, token: &str) -> Option<User> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        // Every entry is compared so that the time taken does not tell how
        // much of a token matched or which entry did.
        let mut found = None;
        for entry in &state.entries {
            if constant_time_eq(entry.token.as_bytes(), token.as_bytes()) {
                found = Some(&entry.user);
            }
        }
        let mut user = found?.clone();
        if !user.groups.iter().any(|g| g == AUTHENTICATED_GROUP) {
            user.groups.push(AUTHENTICATED_GROUP.to_string());
        }
        Some(user)
    }

    fn due_for_check(&self) -> bool {
        let last = self.last_checked.lock().unwrap_or_else(|e| e.into_inner());
        last.elapsed() >= REVOCATION_CHECK_INTERVAL
    }

    /// Rereads the file if it changed since it was read; true if it was reread.
    fn reload_if_changed(&self) -> bool {
        *self.last_checked.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        let current = match stamp(&self.path) {
            Ok(current) => current,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot check the token file; keeping the tokens read before");
                return false;
            }
        };
        let unchanged = |state: &TokenState| state.stamp == current;
        if unchanged(&self.state.read().unwrap_or_else(|e| e.into_inner())) {
            return false;
        }
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        // Another request may have reloaded while this one waited for the lock.
        if unchanged(&state) {
            return false;
        }
        match read_token_file(&self.path) {
            Ok((entries, stamp)) => {
                tracing::info!(path = %self.path.display(), tokens = entries.len(), "reloaded the token file");
                state.entries = entries;
                state.stamp = stamp;
                true
            }
            Err(e) => {
                // Locking every client out over a bad edit would be worse
                // than serving the last good set; the next change retries.
                tracing::warn!(error = %e, "the changed token file is unusable; keeping the tokens read before");
                state.stamp = current;
                false
            }
        }
    }
}

/// The token of an `Authorization` header value, parsed as kube-apiserver
/// does: `Bearer <token>`, scheme case-insensitive, one space, non-empty token.
pub fn bearer_token(authorization_header: &str) -> Option<&str> {
    let mut parts = authorization_header.trim().splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return None;
    }
    Some(token)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn stamp(path: &Path) -> io::Result<Option<FileStamp>> {
    match fs::metadata(path) {
        Ok(meta) => Ok(Some(FileStamp {
            modified: meta.modified()?,
            len: meta.len(),
            inode: meta.ino(),
        })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn read_token_file(path: &Path) -> Result<(Vec<TokenEntry>, Option<FileStamp>), AuthError> {
    let io_error = |source| AuthError::Io {
        action: "reading",
        path: path.to_path_buf(),
        source,
    };
    // Stamped before reading: a change racing the read then only causes one
    // more reread, never a missed one.
    let stamp = stamp(path).map_err(io_error)?;
    let Some(contents) = read_optional(path).map_err(io_error)? else {
        return Ok((Vec::new(), None));
    };
    let entries = parse_tokens(&contents).map_err(|(line, reason)| AuthError::Malformed {
        path: path.to_path_buf(),
        line,
        reason,
    })?;
    Ok((entries, stamp))
}

/// Parses a token file; errors carry the 1-based line number.
fn parse_tokens(contents: &str) -> Result<Vec<TokenEntry>, (usize, String)> {
    let mut entries = Vec::new();
    for (index, line) in contents.lines().enumerate() {
        let line_number = index + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = split_csv_record(line).map_err(|reason| (line_number, reason))?;
        if fields.len() < 3 {
            return Err((
                line_number,
                format!(
                    "a token record needs at least 3 columns (token, user name, user uid), found {}",
                    fields.len()
                ),
            ));
        }
        if fields[0].is_empty() {
            return Err((line_number, "empty token".to_string()));
        }
        let groups = fields
            .get(3)
            .map(|groups| {
                groups
                    .split(',')
                    .filter(|g| !g.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        entries.push(TokenEntry {
            token: fields[0].clone(),
            user: User {
                name: fields[1].clone(),
                uid: fields[2].clone(),
                groups,
            },
        });
    }
    Ok(entries)
}

/// Splits one CSV record (RFC 4180 quoting, no line breaks inside fields).
fn split_csv_record(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    loop {
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated quoted field".to_string()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(std::mem::take(&mut field)),
                Some(c) => return Err(format!("unexpected {c:?} after a quoted field")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => {
                        fields.push(std::mem::take(&mut field));
                        break;
                    }
                    Some('"') => return Err("bare \" in an unquoted field".to_string()),
                    Some(c) => field.push(c),
                }
            }
        }
    }
}

/// Issues a new token for `user` in `groups`: appends it to `dir/tokens`
/// (created with mode 0600) and returns it. 32 random bytes, base64url.
pub fn issue_token(dir: &Path, user: &str, groups: &[&str]) -> Result<String, AuthError> {
    check_name("user name", user)?;
    for group in groups {
        check_name("group", group)?;
    }
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let uid = uuid::Uuid::new_v4().to_string();
    let mut record = format!("{token},{user},{uid}");
    if !groups.is_empty() {
        record.push_str(&format!(",\"{}\"", groups.join(",")));
    }
    record.push('\n');

    create_private_dir(dir).map_err(|source| AuthError::Io {
        action: "creating",
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(TOKENS_FILE);
    let io_error = |source| AuthError::Io {
        action: "writing",
        path: path.clone(),
        source,
    };
    let created = !path.exists();
    // One append of one whole record: concurrent issuers never interleave
    // within a line, and readers see the record complete or not at all.
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
        .map_err(io_error)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(io_error)?;
    file.write_all(record.as_bytes()).map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    if created {
        sync_parent(&path).map_err(io_error)?;
    }
    Ok(token)
}

fn check_name(what: &'static str, value: &str) -> Result<(), AuthError> {
    let reason = if value.is_empty() {
        "must not be empty"
    } else if value.contains([',', '"']) {
        "must not contain ',' or '\"'"
    } else if value.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(AuthError::InvalidName {
        what,
        value: value.to_string(),
        reason,
    })
}

#[derive(Serialize)]
struct Kubeconfig<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'a str,
    clusters: [NamedCluster<'a>; 1],
    contexts: [NamedContext<'a>; 1],
    #[serde(rename = "current-context")]
    current_context: &'a str,
    preferences: Empty,
    users: [NamedUser<'a>; 1],
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct NamedCluster<'a> {
    name: &'a str,
    cluster: Cluster<'a>,
}

#[derive(Serialize)]
struct Cluster<'a> {
    server: &'a str,
    #[serde(rename = "certificate-authority-data")]
    certificate_authority_data: String,
}

#[derive(Serialize)]
struct NamedContext<'a> {
    name: &'a str,
    context: Context<'a>,
}

#[derive(Serialize)]
struct Context<'a> {
    cluster: &'a str,
    user: &'a str,
}

#[derive(Serialize)]
struct NamedUser<'a> {
    name: &'a str,
    user: UserCredentials<'a>,
}

#[derive(Serialize)]
struct UserCredentials<'a> {
    token: &'a str,
}

/// Writes a kubeconfig (mode 0600, atomically) that kubectl and kube-rs use
/// as is: one cluster named `podnet` at `server_url` trusting `ca_pem`, one
/// user entry named `user` with the bearer `token`, and one context named
/// `context` joining them, which is the current context.
pub fn write_kubeconfig(
    path: &Path,
    server_url: &str,
    ca_pem: &str,
    user: &str,
    token: &str,
    context: &str,
) -> Result<(), AuthError> {
    let config = Kubeconfig {
        api_version: "v1",
        kind: "Config",
        clusters: [NamedCluster {
            name: KUBECONFIG_NAME,
            cluster: Cluster {
                server: server_url,
                certificate_authority_data: base64::engine::general_purpose::STANDARD
                    .encode(ca_pem),
            },
        }],
        contexts: [NamedContext {
            name: context,
            context: Context {
                cluster: KUBECONFIG_NAME,
                user,
            },
        }],
        current_context: context,
        preferences: Empty {},
        users: [NamedUser {
            name: user,
            user: UserCredentials { token },
        }],
    };
    let yaml = serde_yaml::to_string(&config)?;
    write_atomic(path, yaml.as_bytes(), 0o600).map_err(|source| AuthError::Io {
        action: "writing",
        path: path.to_path_buf(),
        source,
    })
}

/// Makes sure the admin can reach the server: on first start issues the
/// admin token (user `admin`, group `system:masters`) and writes
/// `dir/kubeconfig`; later starts keep the token and rewrite the kubeconfig
/// only when it does not hold `server_url`, `ca_pem` and that token.
/// Returns the admin token.
pub fn ensure_admin(dir: &Path, server_url: &str, ca_pem: &str) -> Result<String, AuthError> {
    let (entries, _) = read_token_file(&dir.join(TOKENS_FILE))?;
    let existing = entries.into_iter().rev().find(|entry| {
        entry.user.name == ADMIN_USER && entry.user.groups.iter().any(|g| g == MASTERS_GROUP)
    });
    let token = match existing {
        Some(entry) => entry.token,
        None => {
            tracing::info!("issuing the admin token");
            issue_token(dir, ADMIN_USER, &[MASTERS_GROUP])?
        }
    };
    let path = dir.join(KUBECONFIG_FILE);
    let current = read_optional(&path).map_err(|source| AuthError::Io {
        action: "reading",
        path: path.clone(),
        source,
    })?;
    let up_to_date = current
        .as_deref()
        .is_some_and(|yaml| kubeconfig_matches(yaml, server_url, ca_pem, &token));
    if !up_to_date {
        tracing::info!(path = %path.display(), "writing the admin kubeconfig");
        write_kubeconfig(
            &path,
            server_url,
            ca_pem,
            KUBECONFIG_NAME,
            &token,
            KUBECONFIG_NAME,
        )?;
    }
    Ok(token)
}

/// Whether a kubeconfig written by [`ensure_admin`] still points at
/// `server_url`, trusts `ca_pem` and carries `token`.
fn kubeconfig_matches(yaml: &str, server_url: &str, ca_pem: &str, token: &str) -> bool {
    let Ok(config) = serde_yaml::from_str::<serde_yaml::Value>(yaml) else {
        return false;
    };
    let named = |list: &str, name: &str| -> Option<serde_yaml::Value> {
        config
            .get(list)?
            .as_sequence()?
            .iter()
            .find(|item| item.get("name").and_then(|n| n.as_str()) == Some(name))
            .cloned()
    };
    let Some(cluster) = named("clusters", KUBECONFIG_NAME) else {
        return false;
    };
    let Some(user) = named("users", KUBECONFIG_NAME) else {
        return false;
    };
    let field = |value: &serde_yaml::Value, section: &str, key: &str| -> Option<String> {
        Some(value.get(section)?.get(key)?.as_str()?.to_string())
    };
    let ca_matches = field(&cluster, "cluster", "certificate-authority-data")
        .and_then(|data| base64::engine::general_purpose::STANDARD.decode(data).ok())
        .is_some_and(|pem| pem == ca_pem.as_bytes());
    field(&cluster, "cluster", "server").as_deref() == Some(server_url)
        && ca_matches
        && field(&user, "user", "token").as_deref() == Some(token)
        && config.get("current-context").and_then(|c| c.as_str()) == Some(KUBECONFIG_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    #[test]
    fn issued_token_authenticates_its_user() {
        let dir = tempfile::tempdir().unwrap();
        let token = issue_token(dir.path(), "system:node:n1", &["system:nodes"]).unwrap();
        assert_eq!(token.len(), 43, "32 bytes, base64url without padding");
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let mode = fs::metadata(dir.path().join(TOKENS_FILE))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);

        let tokens = Tokens::load(dir.path()).unwrap();
        let user = tokens.authenticate(Some(&bearer(&token))).unwrap();
        assert_eq!(user.name, "system:node:n1");
        assert_eq!(user.groups, vec!["system:nodes", AUTHENTICATED_GROUP]);
        assert_eq!(user.uid.len(), 36, "{}", user.uid);
        // The scheme is case-insensitive, as in Kubernetes.
        assert!(tokens
            .authenticate(Some(&format!("bearer {token}")))
            .is_some());
    }

    #[test]
    fn wrong_or_missing_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let token = issue_token(dir.path(), "alice", &[]).unwrap();
        let tokens = Tokens::load(dir.path()).unwrap();
        assert!(tokens.authenticate(None).is_none());
        assert!(tokens.authenticate(Some("Bearer wrong")).is_none());
        assert!(tokens
            .authenticate(Some(&format!("Basic {token}")))
            .is_none());
        assert!(tokens
            .authenticate(Some(&format!("Bearer  {token}")))
            .is_none());
        assert!(tokens.authenticate(Some("Bearer ")).is_none());
        let mut truncated = token.clone();
        truncated.pop();
        assert!(tokens.authenticate(Some(&bearer(&truncated))).is_none());
        let user = tokens.authenticate(Some(&bearer(&token))).unwrap();
        assert_eq!(user.groups, vec![AUTHENTICATED_GROUP]);
    }

    #[test]
    fn tokens_issued_by_another_process_work_without_restart() {
        let dir = tempfile::tempdir().unwrap();
        // The server starts before any token file exists.
        let tokens = Tokens::load(dir.path()).unwrap();
        let first = issue_token(dir.path(), "first", &[]).unwrap();
        assert_eq!(
            tokens.authenticate(Some(&bearer(&first))).unwrap().name,
            "first"
        );
        let second = issue_token(dir.path(), "second", &["g1", "g2"]).unwrap();
        let user = tokens.authenticate(Some(&bearer(&second))).unwrap();
        assert_eq!(user.name, "second");
        assert_eq!(user.groups, vec!["g1", "g2", AUTHENTICATED_GROUP]);
        assert!(tokens.authenticate(Some(&bearer(&first))).is_some());
    }

    #[test]
    fn removed_token_stops_working() {
        let dir = tempfile::tempdir().unwrap();
        let kept = issue_token(dir.path(), "kept", &[]).unwrap();
        let revoked = issue_token(dir.path(), "revoked", &[]).unwrap();
        let tokens = Tokens::load(dir.path()).unwrap();
        assert!(tokens.authenticate(Some(&bearer(&revoked))).is_some());

        let path = dir.path().join(TOKENS_FILE);
        let remaining: String = fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter(|line| !line.starts_with(&revoked))
            .map(|line| format!("{line}\n"))
            .collect();
        write_atomic(&path, remaining.as_bytes(), 0o600).unwrap();
        *tokens.last_checked.lock().unwrap() -= REVOCATION_CHECK_INTERVAL;

        assert!(tokens.authenticate(Some(&bearer(&revoked))).is_none());
        assert!(tokens.authenticate(Some(&bearer(&kept))).is_some());
    }

    #[test]
    fn token_file_in_kube_apiserver_format() {
        let contents = "# static tokens\n\
                        \n\
                        t1,alice,uid-1\n\
                        t2,bob,uid-2,\"dev,ops\"\r\n\
                        t3,carol,uid-3,single\n\
                        \"t,4\",\"dan \"\"d\"\"\",uid-4,\n";
        let entries = parse_tokens(contents).unwrap();
        let summary: Vec<(&str, &str, &str, Vec<&str>)> = entries
            .iter()
            .map(|e| {
                (
                    e.token.as_str(),
                    e.user.name.as_str(),
                    e.user.uid.as_str(),
                    e.user.groups.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("t1", "alice", "uid-1", vec![]),
                ("t2", "bob", "uid-2", vec!["dev", "ops"]),
                ("t3", "carol", "uid-3", vec!["single"]),
                ("t,4", "dan \"d\"", "uid-4", vec![]),
            ]
        );
    }

    #[test]
    fn malformed_token_file_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(TOKENS_FILE), "t1,alice,uid-1\nt2,bob\n").unwrap();
        let err = Tokens::load(dir.path()).err().unwrap();
        assert!(matches!(err, AuthError::Malformed { line: 2, .. }), "{err}");
        assert!(err.to_string().contains("at least 3 columns"), "{err}");

        for (contents, reason) in [
            ("t1,\"alice,uid\n", "unterminated"),
            ("t1,\"alice\"x,uid\n", "after a quoted field"),
            ("t1,al\"ice,uid\n", "bare"),
            (",alice,uid\n", "empty token"),
        ] {
            let (line, message) = parse_tokens(contents).err().unwrap();
            assert_eq!(line, 1);
            assert!(message.contains(reason), "{contents:?}: {message}");
        }
    }

    #[test]
    fn unusable_reload_keeps_previous_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let token = issue_token(dir.path(), "alice", &[]).unwrap();
        let tokens = Tokens::load(dir.path()).unwrap();
        let path = dir.path().join(TOKENS_FILE);
        let mut contents = fs::read_to_string(&path).unwrap();
        contents.push_str("broken\n");
        fs::write(&path, contents).unwrap();
        assert!(tokens.authenticate(Some("Bearer unknown")).is_none());
        assert!(tokens.authenticate(Some(&bearer(&token))).is_some());
    }

    #[test]
    fn names_that_would_break_the_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (user, groups) in [
            ("", &[][..]),
            ("a,b", &[][..]),
            ("a\"b", &[][..]),
            ("a\nb", &[][..]),
            ("ok", &["g,h"][..]),
            ("ok", &[""][..]),
        ] {
            let err = issue_token(dir.path(), user, groups).err().unwrap();
            assert!(
                matches!(err, AuthError::InvalidName { .. }),
                "{user:?} {groups:?}: {err}"
            );
        }
        assert!(!dir.path().join(TOKENS_FILE).exists());
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("  BEARER abc  "), Some("abc"));
        assert_eq!(bearer_token("Bearer abc extra"), Some("abc"));
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer  abc"), None);
        assert_eq!(bearer_token("Token abc"), None);
    }

    const CA_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[test]
    fn kubeconfig_has_cluster_user_and_current_context() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        write_kubeconfig(
            &path,
            "https://127.0.0.1:6443",
            CA_PEM,
            "podnet",
            "tok",
            "podnet",
        )
        .unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let yaml = fs::read_to_string(&path).unwrap();
        let config: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(config["apiVersion"].as_str(), Some("v1"));
        assert_eq!(config["kind"].as_str(), Some("Config"));
        assert_eq!(config["current-context"].as_str(), Some("podnet"));
        let cluster = &config["clusters"][0];
        assert_eq!(cluster["name"].as_str(), Some("podnet"));
        assert_eq!(
            cluster["cluster"]["server"].as_str(),
            Some("https://127.0.0.1:6443")
        );
        let ca = base64::engine::general_purpose::STANDARD
            .decode(
                cluster["cluster"]["certificate-authority-data"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(ca, CA_PEM.as_bytes());
        let context = &config["contexts"][0];
        assert_eq!(context["name"].as_str(), Some("podnet"));
        assert_eq!(context["context"]["cluster"].as_str(), Some("podnet"));
        assert_eq!(context["context"]["user"].as_str(), Some("podnet"));
        let user = &config["users"][0];
        assert_eq!(user["name"].as_str(), Some("podnet"));
        assert_eq!(user["user"]["token"].as_str(), Some("tok"));
        assert!(kubeconfig_matches(
            &yaml,
            "https://127.0.0.1:6443",
            CA_PEM,
            "tok"
        ));
        assert!(!kubeconfig_matches(
            &yaml,
            "https://127.0.0.1:6444",
            CA_PEM,
            "tok"
        ));
        assert!(!kubeconfig_matches(
            &yaml,
            "https://127.0.0.1:6443",
            "other",
            "tok"
        ));
        assert!(!kubeconfig_matches(
            &yaml,
            "https://127.0.0.1:6443",
            CA_PEM,
            "other"
        ));
    }

    #[test]
    fn ensure_admin_issues_once_and_rewrites_only_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let url = "https://127.0.0.1:6443";
        let token = ensure_admin(dir.path(), url, CA_PEM).unwrap();
        let tokens = Tokens::load(dir.path()).unwrap();
        let admin = tokens.authenticate(Some(&bearer(&token))).unwrap();
        assert_eq!(admin.name, ADMIN_USER);
        assert!(admin.groups.contains(&MASTERS_GROUP.to_string()));

        let kubeconfig = dir.path().join(KUBECONFIG_FILE);
        let written = fs::metadata(&kubeconfig).unwrap();
        assert_eq!(ensure_admin(dir.path(), url, CA_PEM).unwrap(), token);
        let again = fs::metadata(&kubeconfig).unwrap();
        assert_eq!(written.ino(), again.ino(), "kubeconfig left alone");
        assert_eq!(
            fs::read_to_string(dir.path().join(TOKENS_FILE))
                .unwrap()
                .lines()
                .count(),
            1
        );

        let moved = "https://192.0.2.1:6443";
        assert_eq!(ensure_admin(dir.path(), moved, CA_PEM).unwrap(), token);
        let yaml = fs::read_to_string(&kubeconfig).unwrap();
        assert!(kubeconfig_matches(&yaml, moved, CA_PEM, &token));

        let new_ca = "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n";
        assert_eq!(ensure_admin(dir.path(), moved, new_ca).unwrap(), token);
        let yaml = fs::read_to_string(&kubeconfig).unwrap();
        assert!(kubeconfig_matches(&yaml, moved, new_ca, &token));
    }
}
