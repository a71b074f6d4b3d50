//! Plugin logging: stdout belongs to the protocol. Every command is logged to the
//! configured `logFile`; without one, only failures are written, to stderr (runtimes
//! show a plugin's stderr to users, so routine lines there are noise).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Logger {
    file: Option<PathBuf>,
}

impl Logger {
    pub fn new(file: Option<&Path>) -> Logger {
        Logger {
            file: file.map(Path::to_path_buf),
        }
    }

    /// A routine line: written only when a log file is configured.
    pub fn info(&self, msg: &str) {
        if self.file.is_some() {
            self.write(msg);
        }
    }

    /// A failure: to the log file, else stderr.
    pub fn error(&self, msg: &str) {
        self.write(msg);
    }

    fn write(&self, msg: &str) {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let line = format!("{ts:.3} podnet-cni[{}]: {msg}\n", std::process::id());
        let written = self.file.as_ref().is_some_and(|path| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(line.as_bytes()))
                .is_ok()
        });
        if !written {
            // A log line that cannot be written must not turn a good ADD into a failure.
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}
