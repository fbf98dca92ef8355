//! Mock (placeholder).
