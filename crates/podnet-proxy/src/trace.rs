//! Simulated packets through a compiled table.
