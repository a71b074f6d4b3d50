//! The pod worker: drives each pod bound to this node through the runtime.
