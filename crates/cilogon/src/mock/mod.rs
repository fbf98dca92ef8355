//! A mock of CILogon (work in progress).
