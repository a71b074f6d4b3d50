//! Applying scripts: the `Backend` seam, the real `nft` binary and an in-memory fake.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::error::Error;
use crate::model::Family;

/// Where scripts go. One `apply` is one atomic transaction: it changes everything or,
/// on error, nothing.
pub trait Backend {
    /// Applies the script as one transaction. An empty script changes nothing.
    fn apply(&mut self, script: &str) -> Result<(), Error>;

    /// The kernel's view of one table in nft syntax, or `None` if the table does not exist.
    fn list_table(&mut self, family: Family, name: &str) -> Result<Option<String>, Error>;
}

impl<B: Backend + ?Sized> Backend for &mut B {
    fn apply(&mut self, script: &str) -> Result<(), Error> {
        (**self).apply(script)
    }

    fn list_table(&mut self, family: Family, name: &str) -> Result<Option<String>, Error> {
        (**self).list_table(family, name)
    }
}

impl<B: Backend + ?Sized> Backend for Box<B> {
    fn apply(&mut self, script: &str) -> Result<(), Error> {
        (**self).apply(script)
    }

    fn list_table(&mut self, family: Family, name: &str) -> Result<Option<String>, Error> {
        (**self).list_table(family, name)
    }
}

/// nft's exit status for errors in the script or refused by the kernel; other statuses
/// mean nft (or a command prefix such as `ip netns exec`) could not do its job at all.
const NFT_EXIT_FAILURE: i32 = 1;

/// Longest line kept in a script excerpt; element lists can be one very long line.
const EXCERPT_LINE_MAX: usize = 300;

/// Lines kept on each side of the offending line in a script excerpt.
const EXCERPT_CONTEXT: usize = 2;

/// Runs the `nft` binary: `apply` is `nft -f -` with the script on stdin.
///
/// A command prefix runs nft through another program; [`NftCli::in_netns_named`] uses
/// `ip netns exec NAME` to reach a named network namespace without switching the
/// caller's own threads into it.
#[derive(Clone, Debug)]
pub struct NftCli {
    binary: PathBuf,
    prefix: Vec<OsString>,
    stateless_listing: bool,
}

impl Default for NftCli {
    fn default() -> Self {
        NftCli::new()
    }
}

impl NftCli {
    /// `nft` found on PATH.
    pub fn new() -> Self {
        NftCli::with_binary("nft")
    }

    pub fn with_binary(path: impl Into<PathBuf>) -> Self {
        NftCli {
            binary: path.into(),
            prefix: Vec::new(),
            stateless_listing: false,
        }
    }

    /// `nft` on PATH, run as `ip netns exec NAME nft ...` so that it works on the ruleset
    /// of the named network namespace.
    pub fn in_netns_named(netns: &str) -> Self {
        NftCli::new().with_prefix(["ip", "netns", "exec", netns])
    }

    /// Runs the binary as an argument of this command line (e.g. `ip netns exec NAME`).
    pub fn with_prefix<I, S>(mut self, prefix: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.prefix = prefix.into_iter().map(Into::into).collect();
        self
    }

    /// Lists tables with `nft -s`: without counter values and element expiry times, so
    /// that two listings of the same ruleset compare equal.
    pub fn stateless_listing(mut self, stateless: bool) -> Self {
        self.stateless_listing = stateless;
        self
    }

    /// Checks the script against the kernel's current state without committing it
    /// (`nft -c -f -`).
    pub fn check(&mut self, script: &str) -> Result<(), Error> {
        self.run_script(&["-c", "-f", "-"], script)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = match self.prefix.split_first() {
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(&self.binary);
                command
            }
            None => Command::new(&self.binary),
        };
        command.args(args);
        command
    }

    /// The command line, for error messages.
    fn describe(&self, args: &[&str]) -> String {
        let mut words: Vec<&OsStr> = self.prefix.iter().map(OsString::as_os_str).collect();
        words.push(self.binary.as_os_str());
        words.extend(args.iter().map(OsStr::new));
        words
            .iter()
            .map(|word| word.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<Output, Error> {
        let describe = || self.describe(args);
        let mut command = self.command(args);
        command
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|source| Error::Spawn {
            command: describe(),
            source,
        })?;
        let Some(input) = stdin else {
            return child.wait_with_output().map_err(|source| Error::Io {
                command: describe(),
                source,
            });
        };
        let mut pipe = child.stdin.take().expect("stdin was piped");
        // Writing on its own thread: nft may fill its stderr pipe before it has read the
        // whole script, and both sides would wait for each other.
        let (written, output) = std::thread::scope(|scope| {
            let writer = scope.spawn(move || -> io::Result<()> {
                pipe.write_all(input.as_bytes())?;
                // Closing stdin is what tells nft the script is complete.
                drop(pipe);
                Ok(())
            });
            let output = child.wait_with_output();
            let written = writer.join().expect("stdin writer does not panic");
            (written, output)
        });
        let output = output.map_err(|source| Error::Io {
            command: describe(),
            source,
        })?;
        // A failed write (nft exited early) is explained by nft's own status and stderr.
        if output.status.success() {
            written.map_err(|source| Error::Io {
                command: describe(),
                source,
            })?;
        }
        Ok(output)
    }

    fn run_script(&self, args: &[&str], script: &str) -> Result<(), Error> {
        let output = self.run(args, Some(script))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr)
            .trim_end()
            .to_string();
        match output.status.code() {
            Some(NFT_EXIT_FAILURE) => Err(Error::Rejected {
                script_excerpt: script_excerpt(script, &stderr),
                stderr,
            }),
            Some(code) => Err(Error::Failed {
                command: self.describe(args),
                code,
                stderr,
            }),
            None => Err(Error::Killed {
                command: self.describe(args),
                status: output.status.to_string(),
            }),
        }
    }
}

impl Backend for NftCli {
    fn apply(&mut self, script: &str) -> Result<(), Error> {
        // Nothing to do is cheaper than starting nft to do nothing.
        if script.trim().is_empty() {
            return Ok(());
        }
        self.run_script(&["-f", "-"], script)
    }

    fn list_table(&mut self, family: Family, name: &str) -> Result<Option<String>, Error> {
        let mut args = Vec::with_capacity(5);
        if self.stateless_listing {
            args.push("-s");
        }
        args.extend(["list", "table", family.as_str(), name]);
        let output = self.run(&args, None)?;
        let stderr = String::from_utf8_lossy(&output.stderr)
            .trim_end()
            .to_string();
        if !output.status.success() {
            let absent = output.status.code() == Some(NFT_EXIT_FAILURE)
                && stderr
                    .lines()
                    .any(|line| line.starts_with("Error: No such file or directory"));
            if absent {
                return Ok(None);
            }
            return Err(Error::List {
                family: family.to_string(),
                name: name.to_string(),
                stderr,
            });
        }
        String::from_utf8(output.stdout)
            .map(Some)
            .map_err(|_| Error::NotUtf8 {
                command: self.describe(&args),
            })
    }
}

/// Cuts a line to `EXCERPT_LINE_MAX` bytes at a character boundary.
fn shorten(line: &str) -> String {
    if line.len() <= EXCERPT_LINE_MAX {
        return line.to_string();
    }
    let mut end = EXCERPT_LINE_MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} ...", &line[..end])
}

/// The line nft complains about: from a `/dev/stdin:LINE:COL` location (syntax and
/// evaluation errors) or else from the command text nft echoes after a kernel error.
fn offending_line(script: &str, stderr: &str) -> Option<usize> {
    for (at, _) in stderr.match_indices("stdin:") {
        let digits: String = stderr[at + "stdin:".len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(line) = digits.parse::<usize>() {
            if line > 0 {
                return Some(line);
            }
        }
    }
    stderr
        .lines()
        .filter(|line| !line.starts_with("Error") && !line.trim().is_empty())
        .find_map(|echoed| script.lines().position(|line| line == echoed))
        .map(|index| index + 1)
}

/// Numbered lines around the offending line (or the first lines if it is unknown).
pub(crate) fn script_excerpt(script: &str, stderr: &str) -> String {
    let (first, last) = match offending_line(script, stderr) {
        Some(line) => (
            line.saturating_sub(EXCERPT_CONTEXT).max(1),
            line + EXCERPT_CONTEXT,
        ),
        None => (1, 1 + 2 * EXCERPT_CONTEXT),
    };
    script
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line))
        .filter(|(number, _)| (first..=last).contains(number))
        .map(|(number, line)| format!("{number}: {}", shorten(line)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// In-memory backend for tests: records every applied script and answers `list_table`
/// from `listings`. It does not interpret scripts.
#[derive(Debug, Default)]
pub struct RecordingBackend {
    /// Applied scripts in order. Empty scripts are not recorded, as `NftCli` does not
    /// run nft for them.
    pub applied: Vec<String>,
    /// What `list_table` returns, by family and table name.
    pub listings: BTreeMap<(Family, String), String>,
    reject_next: Option<String>,
}

impl RecordingBackend {
    pub fn new() -> Self {
        RecordingBackend::default()
    }

    /// Makes the next non-empty `apply` fail with `Error::Rejected` carrying this message,
    /// without recording the script (a rejected transaction changes nothing).
    pub fn reject_next(&mut self, stderr: impl Into<String>) {
        self.reject_next = Some(stderr.into());
    }
}

impl Backend for RecordingBackend {
    fn apply(&mut self, script: &str) -> Result<(), Error> {
        if script.trim().is_empty() {
            return Ok(());
        }
        if let Some(stderr) = self.reject_next.take() {
            return Err(Error::Rejected {
                script_excerpt: script_excerpt(script, &stderr),
                stderr,
            });
        }
        self.applied.push(script.to_string());
        Ok(())
    }

    fn list_table(&mut self, family: Family, name: &str) -> Result<Option<String>, Error> {
        Ok(self.listings.get(&(family, name.to_string())).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "add table inet t\nadd chain inet t a\nadd rule inet t a bogus\n\
                          add chain inet t b\nadd chain inet t c\nadd chain inet t d\n";

    #[test]
    fn excerpt_follows_the_stdin_location_of_a_syntax_error() {
        let stderr = "/dev/stdin:3:19-23: Error: syntax error, unexpected string\n\
                      add rule inet t a bogus\n                  ^^^^^";
        assert_eq!(
            script_excerpt(SCRIPT, stderr),
            "1: add table inet t\n2: add chain inet t a\n3: add rule inet t a bogus\n\
             4: add chain inet t b\n5: add chain inet t c"
        );
    }

    #[test]
    fn excerpt_finds_the_command_nft_echoes_after_a_kernel_error() {
        let stderr = "Error: Could not process rule: No such file or directory\n\
                      add chain inet t d\n^^^^^^^^";
        assert_eq!(
            script_excerpt(SCRIPT, stderr),
            "4: add chain inet t b\n5: add chain inet t c\n6: add chain inet t d"
        );
    }

    #[test]
    fn excerpt_without_a_location_shows_the_first_lines_and_cuts_long_ones() {
        let long = format!("add element inet t s {{ {} }}", "1.2.3.4, ".repeat(100));
        let script = format!("{long}\nadd table inet t\n");
        let excerpt = script_excerpt(&script, "Error: something");
        let first = excerpt.lines().next().unwrap();
        assert!(first.ends_with(" ..."));
        assert!(first.len() < EXCERPT_LINE_MAX + 10);
        assert!(excerpt.contains("2: add table inet t"));
    }

    #[test]
    fn cli_command_lines_put_the_prefix_before_the_binary() {
        let cli = NftCli::in_netns_named("pnft-1");
        assert_eq!(cli.describe(&["-f", "-"]), "ip netns exec pnft-1 nft -f -");
        let cli = NftCli::with_binary("/opt/nft");
        assert_eq!(cli.describe(&["list", "ruleset"]), "/opt/nft list ruleset");
    }

    #[test]
    fn a_missing_binary_is_a_spawn_error_naming_the_command() {
        let mut cli = NftCli::with_binary("podnet-nft-no-such-binary");
        let error = cli.apply("add table inet t\n").unwrap_err();
        match &error {
            Error::Spawn { command, .. } => {
                assert_eq!(command, "podnet-nft-no-such-binary -f -")
            }
            other => panic!("expected Spawn, got {other:?}"),
        }
    }

    #[test]
    fn empty_scripts_do_not_start_nft() {
        // The binary does not exist, so starting it would fail.
        let mut cli = NftCli::with_binary("podnet-nft-no-such-binary");
        cli.apply("").unwrap();
        cli.apply("\n").unwrap();
    }

    /// A stand-in for nft: a shell snippet run as `sh -c SNIPPET -f -`.
    fn fake_nft(snippet: &str) -> NftCli {
        NftCli::with_binary(snippet).with_prefix(["sh", "-c"])
    }

    #[test]
    fn status_one_is_a_rejection_carrying_stderr_and_the_offending_lines() {
        let mut cli = fake_nft("cat >/dev/null; echo '/dev/stdin:2:1-3: Error: bad' >&2; exit 1");
        match cli.apply("add table inet t\nbad\n").unwrap_err() {
            Error::Rejected {
                stderr,
                script_excerpt,
            } => {
                assert_eq!(stderr, "/dev/stdin:2:1-3: Error: bad");
                assert_eq!(script_excerpt, "1: add table inet t\n2: bad");
            }
            other => panic!("expected Rejected, got {other:?}"),
        }
    }

    #[test]
    fn a_program_that_exits_without_reading_the_script_is_still_reported_by_status() {
        match NftCli::with_binary("false")
            .apply("add table inet t\n")
            .unwrap_err()
        {
            Error::Rejected { stderr, .. } => assert_eq!(stderr, ""),
            other => panic!("expected Rejected, got {other:?}"),
        }
    }

    #[test]
    fn other_statuses_are_failures_of_the_command_not_rejections() {
        let mut cli = fake_nft("echo 'Cannot open network namespace' >&2; exit 255");
        match cli.apply("add table inet t\n").unwrap_err() {
            Error::Failed { code, stderr, .. } => {
                assert_eq!(code, 255);
                assert_eq!(stderr, "Cannot open network namespace");
            }
            other => panic!("expected Failed, got {other:?}"),
        }
    }

    #[test]
    fn a_listing_of_a_missing_table_is_none_and_other_errors_are_errors() {
        let mut absent = fake_nft("echo 'Error: No such file or directory' >&2; exit 1");
        assert_eq!(absent.list_table(Family::Inet, "t").unwrap(), None);
        let mut broken = fake_nft("echo 'Error: Operation not permitted' >&2; exit 1");
        let error = broken.list_table(Family::Inet, "t").unwrap_err();
        assert!(
            matches!(error, Error::List { ref stderr, .. } if stderr.contains("not permitted"))
        );
        let mut present = fake_nft("echo \"$0\" \"$@\"").stateless_listing(true);
        assert_eq!(
            present.list_table(Family::Ip6, "t").unwrap().as_deref(),
            Some("-s list table ip6 t\n")
        );
    }

    #[test]
    fn a_large_script_reaches_the_program_whole() {
        let script: String = (0..20_000)
            .map(|i| format!("add chain inet t c{i}\n"))
            .collect();
        let expected = script.len();
        let mut cli = fake_nft(&format!(
            "n=$(wc -c); [ \"$n\" -eq {expected} ] || {{ echo \"got $n\" >&2; exit 1; }}"
        ));
        cli.apply(&script).unwrap();
    }

    #[test]
    fn recording_backend_records_scripts_and_can_reject_one() {
        let mut backend = RecordingBackend::new();
        backend.apply("add table inet t\n").unwrap();
        backend.apply("").unwrap();
        backend.reject_next("Error: nope");
        let error = backend.apply("add table inet u\n").unwrap_err();
        assert!(matches!(error, Error::Rejected { ref stderr, .. } if stderr == "Error: nope"));
        backend.apply("add table inet v\n").unwrap();
        assert_eq!(
            backend.applied,
            ["add table inet t\n", "add table inet v\n"]
        );

        assert_eq!(backend.list_table(Family::Inet, "t").unwrap(), None);
        backend
            .listings
            .insert((Family::Inet, "t".into()), "table inet t {\n}\n".into());
        assert_eq!(
            backend.list_table(Family::Inet, "t").unwrap().as_deref(),
            Some("table inet t {\n}\n")
        );
    }
}
