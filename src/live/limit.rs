//! How many requests kdrift has in flight at once against one cluster: up to a ceiling
//! (`--concurrency`), halved when the server says it is overloaded (429 Too Many Requests,
//! what API Priority and Fairness answers), grown back by one after as many answers as the
//! current limit (additive increase, multiplicative decrease, as TCP does). `Aimd` is the
//! arithmetic, pure; `Limiter` shares it between tasks.

use std::sync::Mutex;
use std::time::Duration;

/// The limit and how it moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aimd {
    limit: usize,
    ceiling: usize,
    /// Answers since the limit last moved.
    answers: usize,
    /// Answers since the limit was last halved (`None`: never).
    since_cut: Option<usize>,
}

impl Aimd {
    /// Starts at the ceiling: a server that copes is never slowed down.
    pub fn new(ceiling: usize) -> Self {
        let ceiling = ceiling.max(1);
        Aimd {
            limit: ceiling,
            ceiling,
            answers: 0,
            since_cut: None,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// An answer that was not an overload: after `limit` of them the limit grows by one.
    pub fn answered(&mut self) {
        self.answers += 1;
        if let Some(n) = self.since_cut.as_mut() {
            *n += 1;
        }
        if self.answers >= self.limit && self.limit < self.ceiling {
            self.limit += 1;
            self.answers = 0;
        }
    }

    /// The server is overloaded: the limit halves (never below one). The overloads of
    /// requests sent before the last halving count once: the limit halves at most once per
    /// `limit` answers.
    pub fn overloaded(&mut self) {
        if self.since_cut.is_some_and(|n| n < self.limit) {
            return;
        }
        self.limit = (self.limit / 2).max(1);
        self.answers = 0;
        self.since_cut = Some(0);
    }
}

/// How long to wait before asking again after an overload: what the server said
/// (`retryAfterSeconds`), else 100 ms doubled per attempt, at most 5 s either way.
pub fn backoff(attempt: u32, retry_after: Option<u64>) -> Duration {
    let d = match retry_after {
        Some(s) => Duration::from_secs(s),
        None => Duration::from_millis(100u64 << attempt.min(6)),
    };
    d.min(Duration::from_secs(5))
}

/// How many times a request the server answered 429 is asked again.
pub const OVERLOAD_RETRIES: u32 = 5;

/// The wait a 429 asks for (`retryAfterSeconds`), if it names one.
pub fn retry_after(s: &kube::core::Status) -> Option<u64> {
    s.details
        .as_ref()
        .map(|d| u64::from(d.retry_after_seconds))
        .filter(|s| *s > 0)
}

/// Runs `request` again while the server answers 429, after the wait it asks for (`backoff`),
/// at most `OVERLOAD_RETRIES` times; any other answer is returned as it is.
pub async fn retry_overloaded<T, F, Fut>(mut request: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let mut attempt = 0;
    loop {
        match request().await {
            Err(kube::Error::Api(s)) if s.code == 429 && attempt < OVERLOAD_RETRIES => {
                tokio::time::sleep(backoff(attempt, retry_after(&s))).await;
                attempt += 1;
            }
            answer => return answer,
        }
    }
}

/// An `Aimd` limit shared by tasks: `acquire` waits until fewer than the limit are in flight.
pub struct Limiter {
    state: Mutex<(Aimd, usize)>,
    freed: tokio::sync::Notify,
}

/// One request in flight; dropping it frees its place.
pub struct Permit<'a> {
    limiter: &'a Limiter,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.limiter.state.lock() {
            s.1 = s.1.saturating_sub(1);
        }
        self.limiter.freed.notify_waiters();
    }
}

impl Limiter {
    pub fn new(ceiling: usize) -> Self {
        Limiter {
            state: Mutex::new((Aimd::new(ceiling), 0)),
            freed: tokio::sync::Notify::new(),
        }
    }

    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Ok(mut s) = self.state.lock() {
                if s.1 < s.0.limit() {
                    s.1 += 1;
                    return Permit { limiter: self };
                }
            }
            freed.await;
        }
    }

    pub fn answered(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.0.answered();
        }
        self.freed.notify_waiters();
    }

    pub fn overloaded(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.0.overloaded();
        }
    }

    pub fn limit(&self) -> usize {
        self.state.lock().map_or(1, |s| s.0.limit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_on_overload_and_grows_back_by_one_per_round() {
        let mut a = Aimd::new(32);
        assert_eq!(a.limit(), 32);
        a.answered();
        a.overloaded();
        assert_eq!(a.limit(), 16);
        // More overloads from requests already in flight do not halve it again.
        a.overloaded();
        a.overloaded();
        assert_eq!(a.limit(), 16);
        for _ in 0..16 {
            a.answered();
        }
        assert_eq!(a.limit(), 17);
        // A round of answers after the halving, a new overload halves it again.
        a.answered();
        a.overloaded();
        assert_eq!(a.limit(), 8);
    }

    #[test]
    fn never_below_one_nor_above_the_ceiling() {
        let mut a = Aimd::new(4);
        a.overloaded();
        assert_eq!(a.limit(), 2);
        for _ in 0..3 {
            a.answered();
        }
        assert_eq!(a.limit(), 3);
        a.overloaded();
        assert_eq!(a.limit(), 1);
        a.overloaded();
        assert_eq!(a.limit(), 1);
        for _ in 0..1000 {
            a.answered();
        }
        assert_eq!(a.limit(), 4);
        let mut z = Aimd::new(0);
        assert_eq!(z.limit(), 1);
        z.overloaded();
        assert_eq!(z.limit(), 1);
    }

    #[test]
    fn backoff_follows_the_server_and_is_bounded() {
        assert_eq!(backoff(0, None), Duration::from_millis(100));
        assert_eq!(backoff(3, None), Duration::from_millis(800));
        assert_eq!(backoff(20, None), Duration::from_secs(5));
        assert_eq!(backoff(0, Some(2)), Duration::from_secs(2));
        assert_eq!(backoff(0, Some(600)), Duration::from_secs(5));
    }

    #[tokio::test]
    async fn no_more_than_the_limit_in_flight() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let limiter = std::sync::Arc::new(Limiter::new(3));
        let now = std::sync::Arc::new(AtomicUsize::new(0));
        let peak = std::sync::Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (limiter, now, peak) = (limiter.clone(), now.clone(), peak.clone());
                tokio::spawn(async move {
                    let _p = limiter.acquire().await;
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    limiter.answered();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }
}
