//! The headless Chromium of the satellite kit's tests.

pub use vote_satellite_kit::browser::{Browser, Tab};
