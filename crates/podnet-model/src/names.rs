//! Name syntax Kubernetes enforces on object names, label keys and values,
//! port names and environment variable names. Each check returns the
//! problems in Kubernetes' own words (empty = valid), so an API error can
//! quote them after the field path.

const DNS1123_LABEL_MAX: usize = 63;
const DNS1123_SUBDOMAIN_MAX: usize = 253;
const QUALIFIED_NAME_MAX: usize = 63;
const LABEL_VALUE_MAX: usize = 63;
const PORT_NAME_MAX: usize = 15;

const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const QUALIFIED_NAME_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const QUALIFIED_NAME_SLASH_MSG: &str = "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const RELAXED_ENV_VAR_MSG: &str =
    "a valid environment variable name must consist only of printable ASCII characters other than '='";
const CONFIG_MAP_KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
const WILDCARD_SUBDOMAIN_MSG: &str = "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const PERCENT_MSG: &str = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";
const HTTP_HEADER_MSG: &str = "a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')";
const ENV_VAR_MSG: &str = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";

fn max_len(limit: usize) -> String {
    format!("must be no more than {limit} characters")
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn label_syntax(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_lower_alnum(b[0])
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
}

/// RFC 1123 label: namespace names, most port-less names.
pub fn dns1123_label(s: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if s.len() > DNS1123_LABEL_MAX {
        problems.push(max_len(DNS1123_LABEL_MAX));
    }
    if !label_syntax(s) {
        // A valid subdomain that is not a label can only be wrong by its dots,
        // and Kubernetes says so instead of quoting the regex.
        if subdomain_syntax(s) {
            problems.push("must not contain dots".to_string());
        } else {
            problems.push(DNS1123_LABEL_MSG.to_string());
        }
    }
    problems
}

fn subdomain_syntax(s: &str) -> bool {
    s.split('.').all(label_syntax)
}

/// RFC 1123 subdomain: the names of most objects.
pub fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        problems.push(max_len(DNS1123_SUBDOMAIN_MAX));
    }
    if !subdomain_syntax(s) {
        problems.push(DNS1123_SUBDOMAIN_MSG.to_string());
    }
    problems
}

/// RFC 1035 label: Service names (they become DNS labels that must not start with a digit).
pub fn dns1035_label(s: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if s.len() > DNS1123_LABEL_MAX {
        problems.push(max_len(DNS1123_LABEL_MAX));
    }
    let b = s.as_bytes();
    if !(label_syntax(s) && b[0].is_ascii_lowercase()) {
        problems.push(DNS1035_LABEL_MSG.to_string());
    }
    problems
}

fn name_part_syntax(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// `[prefix/]name`: label and annotation keys, finalizers, condition types.
pub fn qualified_name(s: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                problems.push("prefix part must be non-empty".to_string());
            } else {
                problems.extend(
                    dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|p| format!("prefix part {p}")),
                );
            }
            name
        }
        _ => return vec![QUALIFIED_NAME_SLASH_MSG.to_string()],
    };
    if name.is_empty() {
        problems.push("name part must be non-empty".to_string());
    } else {
        if name.len() > QUALIFIED_NAME_MAX {
            problems.push(format!("name part {}", max_len(QUALIFIED_NAME_MAX)));
        }
        if !name_part_syntax(name) {
            problems.push(QUALIFIED_NAME_MSG.to_string());
        }
    }
    problems
}

/// A label value: empty, or a qualified name part.
pub fn label_value(s: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if s.len() > LABEL_VALUE_MAX {
        problems.push(max_len(LABEL_VALUE_MAX));
    }
    if !s.is_empty() && !name_part_syntax(s) {
        problems.push(LABEL_VALUE_MSG.to_string());
    }
    problems
}

/// An IANA service name: container and service port names.
pub fn port_name(s: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if s.len() > PORT_NAME_MAX {
        problems.push(max_len(PORT_NAME_MAX));
    }
    let b = s.as_bytes();
    if b.is_empty()
        || !b
            .iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        problems.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !b.iter().any(|c| c.is_ascii_lowercase()) {
        problems.push("must contain at least one letter (a-z)".to_string());
    }
    if s.contains("--") {
        problems.push("must not contain consecutive hyphens".to_string());
    }
    if s.starts_with('-') || s.ends_with('-') {
        problems.push("must not begin or end with a hyphen".to_string());
    }
    problems
}

/// Environment variable names (and ConfigMap/Secret keys use a close cousin).
pub fn env_var_name(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let valid = !b.is_empty()
        && !b[0].is_ascii_digit()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if valid {
        Vec::new()
    } else {
        vec![ENV_VAR_MSG.to_string()]
    }
}

/// Environment variable names as Kubernetes accepts them since relaxed
/// validation became the default: printable ASCII except '='.
pub fn relaxed_env_var_name(s: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if s.is_empty() {
        problems.push("environment variable name must be non-empty".to_string());
    }
    if s.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        problems.push(RELAXED_ENV_VAR_MSG.to_string());
    }
    problems
}

/// Names that would move out of a directory (`.`, `..`, `..x`).
fn chdir_prefix(s: &str) -> Option<String> {
    match s {
        "." => Some("must not be '.'".to_string()),
        ".." => Some("must not be '..'".to_string()),
        _ if s.starts_with("..") => Some("must not start with '..'".to_string()),
        _ => None,
    }
}

/// A ConfigMap or Secret data key (it becomes a file name in volumes).
pub fn config_map_key(s: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        problems.push(max_len(DNS1123_SUBDOMAIN_MAX));
    }
    let valid = !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if !valid {
        problems.push(CONFIG_MAP_KEY_MSG.to_string());
    }
    problems.extend(chdir_prefix(s));
    problems
}

/// A name usable as one URL path segment: the minimum every object name meets.
pub fn path_segment_name(s: &str) -> Vec<String> {
    if s == "." || s == ".." {
        return vec![format!("may not be '{s}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|bad| s.contains(**bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

/// `*.` followed by a DNS subdomain: wildcard Ingress hosts.
pub fn wildcard_dns1123_subdomain(s: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        problems.push(max_len(DNS1123_SUBDOMAIN_MAX));
    }
    let valid = s
        .strip_prefix("*.")
        .is_some_and(|rest| !rest.is_empty() && subdomain_syntax(rest));
    if !valid {
        problems.push(WILDCARD_SUBDOMAIN_MSG.to_string());
    }
    problems
}

/// A percentage such as `25%`: rolling update surge and unavailability.
pub fn percent(s: &str) -> Vec<String> {
    let digits = s.strip_suffix('%').unwrap_or("");
    if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
        Vec::new()
    } else {
        vec![PERCENT_MSG.to_string()]
    }
}

/// An HTTP header name as Go's HTTP library accepts it.
pub fn http_header_name(s: &str) -> Vec<String> {
    if !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
        Vec::new()
    } else {
        vec![HTTP_HEADER_MSG.to_string()]
    }
}

/// A port number: 1 to 65535.
pub fn port_number(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".to_string()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_subdomains() {
        assert!(dns1123_label("web-1").is_empty());
        assert!(!dns1123_label("Web").is_empty());
        assert!(!dns1123_label("-web").is_empty());
        assert!(!dns1123_label("web.x").is_empty());
        assert_eq!(dns1123_label(&"a".repeat(64)).len(), 1);
        assert!(dns1123_subdomain("web.example.com").is_empty());
        assert!(!dns1123_subdomain("web..example").is_empty());
        assert!(!dns1123_subdomain("").is_empty());
        assert!(dns1035_label("web").is_empty());
        assert!(!dns1035_label("1web").is_empty());
    }

    #[test]
    fn qualified_names_with_prefixes() {
        assert!(qualified_name("app").is_empty());
        assert!(qualified_name("app.kubernetes.io/name").is_empty());
        assert!(qualified_name("My_Key.1").is_empty());
        assert!(!qualified_name("a/b/c").is_empty());
        assert_eq!(qualified_name("/x"), vec!["prefix part must be non-empty"]);
        assert_eq!(
            qualified_name("example.com/"),
            vec!["name part must be non-empty"]
        );
        assert!(!qualified_name("Bad_Prefix/x").is_empty());
        assert!(!qualified_name("x_").is_empty());
    }

    #[test]
    fn label_values_may_be_empty() {
        assert!(label_value("").is_empty());
        assert!(label_value("v1.2_3").is_empty());
        assert!(!label_value("has space").is_empty());
        assert!(!label_value(&"a".repeat(64)).is_empty());
    }

    #[test]
    fn port_names_follow_iana() {
        assert!(port_name("http").is_empty());
        assert!(port_name("http-alt2").is_empty());
        assert!(!port_name("HTTP").is_empty());
        assert!(!port_name("8080").is_empty());
        assert!(!port_name("a--b").is_empty());
        assert!(!port_name("-web").is_empty());
        assert!(!port_name("abcdefghijklmnop").is_empty());
    }

    #[test]
    fn env_names_and_ports() {
        assert!(env_var_name("MY_VAR.x-1").is_empty());
        assert!(!env_var_name("1VAR").is_empty());
        assert!(!env_var_name("").is_empty());
        assert!(port_number(80).is_empty());
        assert!(!port_number(0).is_empty());
        assert!(!port_number(65536).is_empty());
    }

    #[test]
    fn labels_with_dots_say_so() {
        assert_eq!(dns1123_label("web.x"), vec!["must not contain dots"]);
        assert_eq!(dns1123_label("Web"), vec![DNS1123_LABEL_MSG]);
    }

    #[test]
    fn port_name_problems_in_kubernetes_order() {
        assert_eq!(
            port_name("8080"),
            vec!["must contain at least one letter (a-z)"]
        );
        assert_eq!(
            port_name("-a--"),
            vec![
                "must not contain consecutive hyphens",
                "must not begin or end with a hyphen"
            ]
        );
    }

    #[test]
    fn relaxed_env_names_and_config_keys() {
        assert!(relaxed_env_var_name("1 weird-name.x").is_empty());
        assert!(!relaxed_env_var_name("A=B").is_empty());
        assert!(!relaxed_env_var_name("tab\there").is_empty());
        assert!(config_map_key("app.properties").is_empty());
        assert!(config_map_key("KEY_1-x").is_empty());
        assert_eq!(config_map_key("a/b"), vec![CONFIG_MAP_KEY_MSG]);
        assert_eq!(config_map_key(".."), vec!["must not be '..'"]);
        assert_eq!(config_map_key("..x"), vec!["must not start with '..'"]);
    }

    #[test]
    fn path_segments_wildcards_percents_headers() {
        assert!(path_segment_name("web.1").is_empty());
        assert_eq!(path_segment_name(".."), vec!["may not be '..'"]);
        assert_eq!(
            path_segment_name("a/b%"),
            vec!["may not contain '/'", "may not contain '%'"]
        );
        assert!(wildcard_dns1123_subdomain("*.example.com").is_empty());
        assert!(!wildcard_dns1123_subdomain("*.*.example.com").is_empty());
        assert!(!wildcard_dns1123_subdomain("foo.example.com").is_empty());
        assert!(percent("25%").is_empty());
        assert!(!percent("25").is_empty());
        assert!(!percent("%").is_empty());
        assert!(http_header_name("X-Forwarded-For").is_empty());
        assert!(!http_header_name("X Header").is_empty());
    }
}
