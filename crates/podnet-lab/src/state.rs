//! The state directory: `up` records the plan it built there. It is a record for
//! people and for `status`, never an input of `down`.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::plan::{LabPlan, LabScope};

/// What the state directory holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// No state file.
    Absent,
    /// The plan the last successful `up` built.
    Plan(Box<LabPlan>),
    /// A state file that cannot be read as a plan, and why.
    Unreadable(String),
}

fn state_error(context: &str, path: &Path, source: io::Error) -> Error {
    Error::State {
        context: context.to_string(),
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the plan atomically (temporary file, then rename). Returns whether the
/// file changed.
pub(crate) fn write(plan: &LabPlan) -> Result<bool> {
    let path = plan.scope.state_file();
    let text = serde_json::to_string_pretty(plan).expect("a plan always serializes") + "\n";
    match fs::read_to_string(&path) {
        Ok(existing) if existing == text => return Ok(false),
        Ok(_) => {}
        Err(source) if source.kind() == io::ErrorKind::NotFound => {}
        Err(source) => return Err(state_error("read", &path, source)),
    }
    let dir = &plan.scope.state_dir;
    fs::create_dir_all(dir).map_err(|source| state_error("create", dir, source))?;
    let temporary = temporary_path(&plan.scope);
    let mut file =
        fs::File::create(&temporary).map_err(|source| state_error("create", &temporary, source))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|source| state_error("write", &temporary, source))?;
    fs::rename(&temporary, &path).map_err(|source| state_error("rename into", &path, source))?;
    Ok(true)
}

pub(crate) fn read(scope: &LabScope) -> Recorded {
    let path = scope.state_file();
    match fs::read_to_string(&path) {
        Ok(text) => match serde_json::from_str::<LabPlan>(&text) {
            Ok(plan) => Recorded::Plan(Box::new(plan)),
            Err(error) => Recorded::Unreadable(format!("{}: {error}", path.display())),
        },
        Err(source) if source.kind() == io::ErrorKind::NotFound => Recorded::Absent,
        Err(source) => Recorded::Unreadable(format!("{}: {source}", path.display())),
    }
}

/// Removes the files `up` writes and then the directory, unless someone else put
/// files there. Returns the paths removed.
pub(crate) fn remove(scope: &LabScope) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for path in [scope.state_file(), temporary_path(scope)] {
        match fs::remove_file(&path) {
            Ok(()) => removed.push(path.display().to_string()),
            Err(source) if source.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(state_error("remove", &path, source)),
        }
    }
    let dir = &scope.state_dir;
    match fs::remove_dir(dir) {
        Ok(()) => removed.push(dir.display().to_string()),
        Err(source)
            if matches!(
                source.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::DirectoryNotEmpty
            ) => {}
        Err(source) => return Err(state_error("remove", dir, source)),
    }
    Ok(removed)
}

fn temporary_path(scope: &LabScope) -> std::path::PathBuf {
    scope.state_dir.join("plan.json.tmp")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::LabConfig;

    fn plan_in(dir: &Path) -> LabPlan {
        let mut config = LabConfig::default();
        config.scope.state_dir = dir.join("lab");
        LabPlan::new(config).unwrap()
    }

    #[test]
    fn write_read_remove_round_trip() {
        let root = tempfile::tempdir().unwrap();
        let plan = plan_in(root.path());
        assert_eq!(read(&plan.scope), Recorded::Absent);
        assert!(write(&plan).unwrap());
        assert!(
            !write(&plan).unwrap(),
            "the same plan again changes nothing"
        );
        assert_eq!(read(&plan.scope), Recorded::Plan(Box::new(plan.clone())));
        let removed = remove(&plan.scope).unwrap();
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert!(!plan.scope.state_dir.exists());
        assert!(remove(&plan.scope).unwrap().is_empty());
    }

    #[test]
    fn foreign_files_keep_the_directory_and_garbage_is_reported() {
        let root = tempfile::tempdir().unwrap();
        let plan = plan_in(root.path());
        write(&plan).unwrap();
        fs::write(plan.scope.state_dir.join("notes"), "mine").unwrap();
        fs::write(plan.scope.state_file(), "{").unwrap();
        assert!(
            matches!(read(&plan.scope), Recorded::Unreadable(ref why) if why.contains("plan.json"))
        );
        let removed = remove(&plan.scope).unwrap();
        assert_eq!(removed, [plan.scope.state_file().display().to_string()]);
        assert!(plan.scope.state_dir.join("notes").exists());
    }
}
