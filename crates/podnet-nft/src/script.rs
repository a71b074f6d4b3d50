//! A transaction script: nft commands, one per line, fed to a single `nft -f -`.

use std::fmt::{self, Write};

/// An nft script. Applied with one `nft -f -`, it is one kernel transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    text: String,
    commands: usize,
}

impl Script {
    pub fn new() -> Script {
        Script::default()
    }

    /// True when the script has no commands (applying it would change nothing).
    pub fn is_empty(&self) -> bool {
        self.commands == 0
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Number of top-level commands. A `table F N { ... }` block counts as one.
    pub fn commands(&self) -> usize {
        self.commands
    }

    pub fn into_string(self) -> String {
        self.text
    }

    /// Appends all commands of `other`.
    pub fn append(&mut self, other: Script) {
        self.text.push_str(&other.text);
        self.commands += other.commands;
    }

    /// Starts one command; the caller writes its text, `end` terminates it.
    pub(crate) fn begin(&mut self) -> &mut String {
        self.commands += 1;
        &mut self.text
    }

    pub(crate) fn end(&mut self) {
        self.text.push('\n');
    }

    /// A whole one-line command from format arguments.
    pub(crate) fn command(&mut self, args: fmt::Arguments<'_>) {
        let text = self.begin();
        // Writing into a String cannot fail.
        let _ = text.write_fmt(args);
        self.end();
    }
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<Script> for String {
    fn from(script: Script) -> String {
        script.text
    }
}

/// `comment "text"`. nft strings have no escapes, so the text is written as is;
/// `validate` rejects comments nft could not read back.
pub(crate) fn write_comment(out: &mut String, comment: &str) {
    out.push_str("comment \"");
    out.push_str(comment);
    out.push('"');
}

/// An element as nft writes it: `key` or `key : value`.
pub(crate) fn write_element(out: &mut String, key: &str, value: Option<&str>) {
    out.push_str(key);
    if let Some(value) = value {
        out.push_str(" : ");
        out.push_str(value);
    }
}

/// `{ a, b : c, ... }` on one line.
pub(crate) fn write_element_list<'a, I>(out: &mut String, elements: I)
where
    I: IntoIterator<Item = (&'a str, Option<&'a str>)>,
{
    out.push_str("{ ");
    for (i, (key, value)) in elements.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_element(out, key, value);
    }
    out.push_str(" }");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_script_is_empty_and_counts_each_command_once() {
        let mut script = Script::new();
        assert!(script.is_empty());
        script.command(format_args!("add table inet t"));
        let mut other = Script::new();
        other.command(format_args!("flush chain inet t c"));
        script.append(other);
        assert!(!script.is_empty());
        assert_eq!(script.commands(), 2);
        assert_eq!(script.as_str(), "add table inet t\nflush chain inet t c\n");
        assert_eq!(
            String::from(script),
            "add table inet t\nflush chain inet t c\n"
        );
    }

    #[test]
    fn element_lists_separate_keys_and_values_like_nft() {
        let mut out = String::new();
        write_element_list(
            &mut out,
            [
                ("10.0.0.1 . tcp . 80", Some("goto svc-a")),
                ("10.0.0.2", None),
            ],
        );
        assert_eq!(out, "{ 10.0.0.1 . tcp . 80 : goto svc-a, 10.0.0.2 }");
    }
}
