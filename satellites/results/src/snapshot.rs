//! The totals as the change feed last read them, held in memory and shared by every request:
//! every law ordered by votes (the results list) and by id (lookups), the grand totals, and
//! the latest recount. Pure data, no I/O.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// One law's totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Law {
    /// The law.
    pub law_id: String,
    /// Yes votes.
    pub oui: i64,
    /// No votes.
    pub non: i64,
    /// When the engine last changed them.
    pub updated_at: OffsetDateTime,
}

impl Law {
    /// Yes and no votes.
    pub fn total(&self) -> i64 {
        self.oui + self.non
    }

    /// The law as the API shows it.
    pub fn view(&self) -> LawView<'_> {
        let total = self.total();
        let oui_pct = (total > 0).then(|| (10_000.0 * self.oui as f64 / total as f64).round() / 100.0);
        LawView {
            law_id: &self.law_id,
            oui: self.oui,
            non: self.non,
            total,
            oui_pct,
            updated_at: rfc3339(self.updated_at),
        }
    }
}

/// A law in API answers and stream events.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Law)]
pub struct LawView<'a> {
    /// The law.
    #[schema(min_length = 1, max_length = 128)]
    pub law_id: &'a str,
    /// Yes votes.
    #[schema(minimum = 0)]
    pub oui: i64,
    /// No votes.
    #[schema(minimum = 0)]
    pub non: i64,
    /// Both.
    #[schema(minimum = 0)]
    pub total: i64,
    /// Share of yes votes in percent, two decimals; `null` without votes.
    #[schema(required = true, minimum = 0, maximum = 100)]
    pub oui_pct: Option<f64>,
    /// Last change, RFC 3339.
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// The latest recorded recount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RecountRun {
    /// When it finished, RFC 3339.
    #[schema(format = DateTime)]
    pub finished_at: String,
    /// The one law it covered; `null`: every law.
    #[schema(required = true)]
    pub law_id: Option<String>,
    /// Laws compared.
    #[schema(minimum = 0)]
    pub laws_checked: i64,
    /// Audit rows counted.
    #[schema(minimum = 0)]
    pub votes_checked: i64,
    /// Laws whose stored totals differed from the recount.
    #[schema(minimum = 0)]
    pub differences: i64,
    /// No difference.
    pub agreed: bool,
}

/// Every law, in the two orders the API needs.
#[derive(Debug, Default)]
pub struct Laws {
    /// Most votes first, then by law id.
    pub by_votes: Vec<Arc<Law>>,
    /// By law id (byte order).
    pub by_id: Vec<Arc<Law>>,
    /// Sum of yes votes.
    pub oui: i64,
    /// Sum of no votes.
    pub non: i64,
}

impl Laws {
    /// Orders `laws` (kept by id) both ways and sums them.
    pub fn build(laws: &BTreeMap<String, Arc<Law>>) -> Self {
        let by_id: Vec<Arc<Law>> = laws.values().cloned().collect();
        let mut by_votes = by_id.clone();
        // Stable: equal totals stay in law id order.
        by_votes.sort_by_key(|law| std::cmp::Reverse(law.total()));
        let (oui, non) = by_id.iter().fold((0, 0), |(o, n), law| (o + law.oui, n + law.non));
        Self { by_votes, by_id, oui, non }
    }

    /// The law named `law_id`.
    pub fn get(&self, law_id: &str) -> Option<&Arc<Law>> {
        self.by_id.binary_search_by(|law| law.law_id.as_str().cmp(law_id)).ok().map(|i| &self.by_id[i])
    }

    /// Laws whose id starts with `prefix`, most votes first: how many, and the page
    /// `offset..offset + limit`.
    pub fn page(&self, prefix: &str, offset: usize, limit: usize) -> (usize, Vec<&Arc<Law>>) {
        if prefix.is_empty() {
            return (self.by_votes.len(), self.by_votes.iter().skip(offset).take(limit).collect());
        }
        let mut matching = 0;
        let mut page = Vec::with_capacity(limit.min(1024));
        for law in self.by_votes.iter().filter(|law| law.law_id.starts_with(prefix)) {
            if matching >= offset && page.len() < limit {
                page.push(law);
            }
            matching += 1;
        }
        (matching, page)
    }
}

/// What the API serves: the laws, when they were read, and the latest recount.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Whether the feed has read the totals at least once.
    pub loaded: bool,
    /// When the feed last read the database successfully.
    pub as_of: OffsetDateTime,
    /// Every law.
    pub laws: Arc<Laws>,
    /// The latest recorded recount, if any (and if the role may read them).
    pub last_recount: Option<RecountRun>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Self { loaded: false, as_of: OffsetDateTime::UNIX_EPOCH, laws: Arc::default(), last_recount: None }
    }
}

impl Snapshot {
    /// Votes on every law.
    pub fn total_votes(&self) -> i64 {
        self.laws.oui + self.laws.non
    }
}

/// RFC 3339 text of `t` (UTC; formatting a valid time cannot fail).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn law(id: &str, oui: i64, non: i64) -> (String, Arc<Law>) {
        (id.to_owned(), Arc::new(Law { law_id: id.to_owned(), oui, non, updated_at: OffsetDateTime::UNIX_EPOCH }))
    }

    fn laws() -> Laws {
        Laws::build(&BTreeMap::from([
            law("law-b", 3, 1),
            law("law-a", 1, 3),
            law("law-c", 10, 0),
            law("bill-1", 0, 0),
            law("law-d", 0, 1),
        ]))
    }

    fn ids(page: &[&Arc<Law>]) -> Vec<String> {
        page.iter().map(|l| l.law_id.clone()).collect()
    }

    #[test]
    fn most_votes_first_then_by_id() {
        let laws = laws();
        let (matching, page) = laws.page("", 0, 10);
        assert_eq!(matching, 5);
        assert_eq!(ids(&page), ["law-c", "law-a", "law-b", "law-d", "bill-1"]);
        assert_eq!((laws.oui, laws.non), (14, 5));
    }

    #[test]
    fn pages_and_prefixes() {
        let laws = laws();
        assert_eq!(ids(&laws.page("", 1, 2).1), ["law-a", "law-b"]);
        assert_eq!(laws.page("", 9, 2).1.len(), 0);
        let (matching, page) = laws.page("law-", 1, 2);
        assert_eq!((matching, ids(&page)), (4, vec!["law-a".to_owned(), "law-b".to_owned()]));
        assert_eq!(laws.page("bill", 0, 10).0, 1);
        assert_eq!(laws.page("nothing", 0, 10).0, 0);
    }

    #[test]
    fn lookups_and_views() {
        let laws = laws();
        assert_eq!(laws.get("law-b").unwrap().oui, 3);
        assert!(laws.get("law-z").is_none() && laws.get("").is_none());
        let view = laws.get("law-a").unwrap().view();
        assert_eq!((view.total, view.oui_pct), (4, Some(25.0)));
        assert_eq!(laws.get("bill-1").unwrap().view().oui_pct, None);
        let third = Law { law_id: "x".into(), oui: 1, non: 2, updated_at: OffsetDateTime::UNIX_EPOCH };
        assert_eq!(third.view().oui_pct, Some(33.33));
        assert_eq!(third.view().updated_at, "1970-01-01T00:00:00Z");
    }
}
