//! Work split over the machine's cores, in order: the few places where one command's input is
//! large enough to be worth it (parsing a big file, decoding its documents, loading several
//! files). Results always come back in input order, so every answer is the same as on one core.

use std::num::NonZeroUsize;

/// Threads worth starting: the cores this process may use, at most 8 (past that the merge and
/// the memory bandwidth win), overridable with `PALISADE_THREADS` (1 = everything on the
/// calling thread).
pub fn threads() -> usize {
    if let Some(n) = std::env::var("PALISADE_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        return n.clamp(1, 64);
    }
    std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(8)
}

/// `f` over `items`, the items cut into up to [`threads`] consecutive runs of equal length,
/// each run on its own thread (the first on the calling one). The output keeps the order.
pub fn map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    map_on(threads(), items, f)
}

/// [`map`] on at most `threads` threads (a background task that must leave cores to others).
pub fn map_on<T: Send, R: Send>(
    threads: usize,
    items: Vec<T>,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.min(items.len());
    if threads <= 1 {
        return items.into_iter().map(f).collect();
    }
    let per = items.len().div_ceil(threads);
    let mut runs: Vec<Vec<T>> = Vec::with_capacity(threads);
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        runs.push(items.by_ref().take(per).collect());
    }
    let f = &f;
    std::thread::scope(|scope| {
        let mut runs = runs.into_iter();
        let first = runs.next().unwrap_or_default();
        let handles: Vec<_> = runs
            .map(|run| scope.spawn(move || run.into_iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out: Vec<R> = first.into_iter().map(f).collect();
        for handle in handles {
            match handle.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_order_of_any_length() {
        for n in [0, 1, 2, 3, 7, 100] {
            let items: Vec<usize> = (0..n).collect();
            let want: Vec<usize> = items.iter().map(|i| i * 3).collect();
            assert_eq!(map(items, |i| i * 3), want, "{n} items");
        }
    }
}
