//! Page requests and pages for keyset pagination.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("limit must be between 1 and {max}")]
pub struct LimitError {
    pub max: u32,
}

/// How many items a page holds: 1 to 100, 50 unless asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u32);

impl PageLimit {
    pub const MIN: u32 = 1;
    pub const DEFAULT: u32 = 50;
    pub const MAX: u32 = 100;

    pub fn parse(value: Option<u32>) -> Result<Self, LimitError> {
        match value {
            None => Ok(Self(Self::DEFAULT)),
            Some(n) if (Self::MIN..=Self::MAX).contains(&n) => Ok(Self(n)),
            Some(_) => Err(LimitError { max: Self::MAX }),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: PageLimit,
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn first(limit: PageLimit) -> Self {
        Self {
            limit,
            cursor: None,
        }
    }

    pub fn after(limit: PageLimit, cursor: impl Into<String>) -> Self {
        Self {
            limit,
            cursor: Some(cursor.into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present when there may be more items; pass it back to get the next page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_to_50_and_caps_at_100() {
        assert_eq!(PageLimit::parse(None).unwrap().get(), 50);
        assert_eq!(PageLimit::parse(Some(100)).unwrap().get(), 100);
        assert_eq!(PageLimit::parse(Some(101)), Err(LimitError { max: 100 }));
        assert_eq!(PageLimit::parse(Some(0)), Err(LimitError { max: 100 }));
    }
}
