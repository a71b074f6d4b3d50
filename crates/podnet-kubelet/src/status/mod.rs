//! Pod status as written to the API server.
