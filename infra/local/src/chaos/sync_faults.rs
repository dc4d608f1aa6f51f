//! Faults at the sync worker's pages. The worker's Trackstar source is wrapped (harness
//! code: the worker itself is built from its template environment, as its binary is): when
//! the n-th page of a full run has been read, the wrapper tells the phase which fault is
//! due and waits for its word before handing the page on. The phase then kills the
//! worker's poller (the page read, nothing stored, no checkpoint), or holds the worker
//! until another has taken its job over, or starts a DynamoDB burst or a Trackstar burst
//! before the worker goes on to store the page.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use packr::domain::Connection;
use packr::sync::{ResourceKind, SourcePage, SyncMode, SyncSource, Window};
use packr::trackstar::TrackstarError;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{mpsc, oneshot};

tokio::task_local! {
    /// Which of the phase's sync-worker pollers runs the current invocation.
    pub static POLLER: usize;
}

/// A fault due at a page of a full run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum PageFault {
    /// The worker's poller is killed between the page read and its checkpoint.
    Kill,
    /// The worker is held past its lease until another worker has taken the job over.
    Stall,
    /// DynamoDB fails every call of the sync functions for a while.
    DynamoBurst,
    /// Trackstar answers every request with a 5xx for a while.
    TrackstarErrors,
    /// Trackstar answers requests with 429 for a while.
    TrackstarStorm,
}

impl PageFault {
    pub const ALL: [PageFault; 5] = [
        PageFault::Kill,
        PageFault::Stall,
        PageFault::DynamoBurst,
        PageFault::TrackstarErrors,
        PageFault::TrackstarStorm,
    ];

    /// Whether it waits for a page after the first of its run (one with a checkpoint
    /// before it, so the run resumes mid-way).
    fn mid_run(self) -> bool {
        matches!(self, PageFault::Kill | PageFault::Stall)
    }
}

/// When each fault is due: at the n-th page of full runs read in the phase (counting
/// from 1), one fault after another.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PagePlan {
    pub at: Vec<(usize, PageFault)>,
}

impl PagePlan {
    /// Seeded: each fault at a page drawn within its own slot of `spacing` pages, in the
    /// order of [`PageFault::ALL`] (the kill first, while a full run is young).
    pub fn seeded(seed: u64, spacing: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x059c_fa17);
        let spacing = spacing.max(2);
        let at = PageFault::ALL
            .iter()
            .enumerate()
            .map(|(i, fault)| (2 + i * spacing + rng.random_range(0..spacing / 2), *fault))
            .collect();
        Self { at }
    }
}

/// A fault that came due: the phase acts on it, then sends on `resume` (never, for a
/// kill: the poller is gone with the page).
#[derive(Debug)]
pub struct Due {
    pub fault: PageFault,
    pub resource: ResourceKind,
    pub page: usize,
    /// The poller running the worker, when known.
    pub poller: Option<usize>,
    pub resume: oneshot::Sender<()>,
}

/// The worker's source, with the plan's faults at its pages.
pub struct FaultySource {
    inner: Arc<dyn SyncSource>,
    pages: AtomicUsize,
    pending: Mutex<Vec<(usize, PageFault)>>,
    due: mpsc::UnboundedSender<Due>,
}

impl FaultySource {
    pub fn new(
        inner: Arc<dyn SyncSource>,
        plan: &PagePlan,
    ) -> (Self, mpsc::UnboundedReceiver<Due>) {
        let (due, faults) = mpsc::unbounded_channel();
        let mut pending = plan.at.clone();
        pending.sort();
        (
            Self {
                inner,
                pages: AtomicUsize::new(0),
                pending: Mutex::new(pending),
                due,
            },
            faults,
        )
    }

    /// Full-run pages read so far.
    pub fn pages(&self) -> usize {
        self.pages.load(Ordering::SeqCst)
    }

    /// The faults not yet due.
    pub fn pending(&self) -> Vec<PageFault> {
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.iter().map(|(_, f)| *f).collect()
    }

    /// The fault due at this page, taken off the plan.
    fn take_due(&self, page: usize, mid_run: bool) -> Option<PageFault> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let index = pending
            .iter()
            .position(|(at, fault)| *at <= page && (mid_run || !fault.mid_run()))?;
        // One at a time, in order: a later fault waits for the earlier ones.
        if pending[..index].iter().any(|(at, _)| *at <= page) {
            return None;
        }
        Some(pending.remove(index).1)
    }
}

// `SyncSource` is an `async_trait`; its methods are written out as the macro expands them
// (this crate does not depend on the macro).
impl SyncSource for FaultySource {
    fn page<'s, 'c, 'w, 't, 'f>(
        &'s self,
        connection: &'c Connection,
        resource: ResourceKind,
        mode: SyncMode,
        window: &'w Window,
        page_token: Option<&'t str>,
        limit: u32,
    ) -> BoxFuture<'f, Result<SourcePage, TrackstarError>>
    where
        's: 'f,
        'c: 'f,
        'w: 'f,
        't: 'f,
        Self: 'f,
    {
        Box::pin(async move {
            let page = self
                .inner
                .page(connection, resource, mode, window, page_token, limit)
                .await?;
            if mode != SyncMode::Full {
                return Ok(page);
            }
            let n = self.pages.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some(fault) = self.take_due(n, page_token.is_some()) {
                let (resume, resumed) = oneshot::channel();
                let due = Due {
                    fault,
                    resource,
                    page: n,
                    poller: POLLER.try_with(|p| *p).ok(),
                    resume,
                };
                if self.due.send(due).is_ok() {
                    // A kill never resumes: the poller is aborted here, the page in hand.
                    let _ = resumed.await;
                }
            }
            Ok(page)
        })
    }

    fn objects<'s, 'c, 'i, 'f>(
        &'s self,
        connection: &'c Connection,
        resource: ResourceKind,
        ids: &'i [String],
    ) -> BoxFuture<'f, Result<SourcePage, TrackstarError>>
    where
        's: 'f,
        'c: 'f,
        'i: 'f,
        Self: 'f,
    {
        self.inner.objects(connection, resource, ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_is_seeded_and_spaces_every_fault_in_order() {
        let plan = PagePlan::seeded(7, 6);
        assert_eq!(plan, PagePlan::seeded(7, 6));
        assert_eq!(plan.at.len(), PageFault::ALL.len());
        assert!(plan.at.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(plan.at[0].1, PageFault::Kill);
        assert!(plan.at[0].0 >= 2);
    }

    struct Empty;

    impl SyncSource for Empty {
        fn page<'s, 'c, 'w, 't, 'f>(
            &'s self,
            _: &'c Connection,
            _: ResourceKind,
            _: SyncMode,
            _: &'w Window,
            _: Option<&'t str>,
            _: u32,
        ) -> BoxFuture<'f, Result<SourcePage, TrackstarError>>
        where
            's: 'f,
            'c: 'f,
            'w: 'f,
            't: 'f,
            Self: 'f,
        {
            Box::pin(async {
                Ok(SourcePage {
                    objects: Vec::new(),
                    next_token: None,
                })
            })
        }

        fn objects<'s, 'c, 'i, 'f>(
            &'s self,
            _: &'c Connection,
            _: ResourceKind,
            _: &'i [String],
        ) -> BoxFuture<'f, Result<SourcePage, TrackstarError>>
        where
            's: 'f,
            'c: 'f,
            'i: 'f,
            Self: 'f,
        {
            Box::pin(async {
                Ok(SourcePage {
                    objects: Vec::new(),
                    next_token: None,
                })
            })
        }
    }

    fn connection() -> Connection {
        serde_json::from_value(serde_json::json!({
            "tenant_id": "acme",
            "connection_id": "conn_1",
            "integration_name": "sandbox",
            "access_token_secret": "arn:secret",
            "status": "active",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        }))
        .expect("a connection")
    }

    fn window() -> Window {
        Window {
            from: None,
            to: packr::domain::Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
        }
    }

    #[tokio::test]
    async fn a_mid_run_fault_waits_for_a_page_with_a_token_and_holds_it_until_resumed() {
        // given a kill due at the 2nd full page and a DynamoDB burst at the 3rd
        let plan = PagePlan {
            at: vec![(2, PageFault::Kill), (3, PageFault::DynamoBurst)],
        };
        let (source, mut due) = FaultySource::new(Arc::new(Empty), &plan);
        let source = Arc::new(source);
        let (c, w) = (connection(), window());
        // when incremental pages and a first page (no token) are read
        source
            .page(
                &c,
                ResourceKind::Orders,
                SyncMode::Incremental,
                &w,
                Some("t"),
                5,
            )
            .await
            .unwrap();
        source
            .page(&c, ResourceKind::Orders, SyncMode::Full, &w, None, 5)
            .await
            .unwrap();
        source
            .page(&c, ResourceKind::Orders, SyncMode::Full, &w, None, 5)
            .await
            .unwrap();
        // then nothing is due: the kill waits for a page after the first of its run
        assert!(due.try_recv().is_err());
        assert_eq!(source.pages(), 2);
        // when a mid-run page is read, the kill comes due and the page is held
        let reader = {
            let source = Arc::clone(&source);
            let c = c.clone();
            tokio::spawn(async move {
                source
                    .page(
                        &c,
                        ResourceKind::Products,
                        SyncMode::Full,
                        &w,
                        Some("p2"),
                        5,
                    )
                    .await
            })
        };
        let kill = due.recv().await.unwrap();
        assert_eq!(
            (kill.fault, kill.resource, kill.page),
            (PageFault::Kill, ResourceKind::Products, 3)
        );
        assert!(!reader.is_finished());
        // until the phase resumes it
        kill.resume.send(()).unwrap();
        assert!(reader.await.unwrap().is_ok());
        // and the burst comes due at the next page, first page or not
        let reader = {
            let source = Arc::clone(&source);
            tokio::spawn(async move {
                source
                    .page(&c, ResourceKind::Bills, SyncMode::Full, &w, None, 5)
                    .await
            })
        };
        let burst = due.recv().await.unwrap();
        assert_eq!(burst.fault, PageFault::DynamoBurst);
        burst.resume.send(()).unwrap();
        assert!(reader.await.unwrap().is_ok());
        assert!(source.pending().is_empty());
    }
}
