//! The `hookline` command line as a library: the standalone pipeline that `hookline up` and
//! `hookline demo` run (and the end-to-end tests drive).
pub mod standalone;
