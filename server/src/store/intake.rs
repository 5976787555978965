//! How writer threads share the ledger queue without waiting on each other's row locks.
//!
//! With one writer thread, a batch's statements, its commit and the engine's work run one after
//! another, and on PostgreSQL half of the two cores sat idle (measured with `mkoba-bench ledger`).
//! Two writer threads overlap those phases, but only if their batches touch different rows: a
//! batch that locks an account another thread's in-flight batch holds waits for that whole batch
//! to commit. Measured: with random wallets, a third of the batches waited, and two threads were
//! slower than one. So a thread forming a batch skips commands whose accounts (or pending
//! transfer, original transaction, allowance, idempotency key) an in-flight batch of another
//! thread holds; they wait, in arrival order, for the next batch formed after that batch ends.
//!
//! This is scheduling, not safety: PostgreSQL's row locks and the guarded updates still keep
//! every batch correct if a conflict slips through (a row reached only through a pending or
//! original transaction, say); it would only wait.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mkoba_ledger::Command;
use tokio::sync::mpsc;

/// A row (or key) that two concurrent batches must not both hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Claim {
    Account(i64),
    Pending(i64),
    Original(i64),
    Allowance(i64),
    /// A hash of the idempotency key: two batches inserting the same key would make one of them
    /// fail on the unique index and retry its commands one by one.
    Key(u64),
}

/// Everything `command` makes a batch hold, as far as it can be known before loading.
pub fn claims_of(command: &Command) -> Vec<Claim> {
    let mut claims: Vec<Claim> = command
        .named_accounts()
        .into_iter()
        .map(|a| Claim::Account(a.0))
        .collect();
    claims.extend(command.pending_ref().map(|t| Claim::Pending(t.0)));
    claims.extend(command.original_ref().map(|t| Claim::Original(t.0)));
    claims.extend(command.allowance_ref().map(|a| Claim::Allowance(a.0)));
    let mut hasher = DefaultHasher::new();
    command.idempotency_key().hash(&mut hasher);
    claims.push(Claim::Key(hasher.finish()));
    claims
}

/// Something a writer thread can schedule: it knows what it claims.
pub trait Claims {
    fn claims(&self) -> &[Claim];
}

/// How long a thread whose every waiting command conflicts sleeps before looking again, if no
/// in-flight batch ends first (an ending batch wakes it at once).
const RECHECK: Duration = Duration::from_millis(1);

struct Schedule<J> {
    /// Commands taken off the queue that conflicted with an in-flight batch, oldest first.
    deferred: VecDeque<J>,
    /// Which writer thread's in-flight batch holds each claim.
    held: HashMap<Claim, usize>,
}

/// The queue of ledger commands as the writer threads see it.
pub struct Intake<J> {
    receiver: Mutex<mpsc::Receiver<J>>,
    schedule: Mutex<Schedule<J>>,
    batch_ended: Condvar,
    /// With one writer thread there is nothing to schedule around.
    shared: bool,
    /// At most this many commands wait in `deferred` (the queue's own bound).
    deferred_max: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<J: Claims> Intake<J> {
    pub fn new(receiver: mpsc::Receiver<J>, threads: usize, deferred_max: usize) -> Intake<J> {
        Intake {
            receiver: Mutex::new(receiver),
            schedule: Mutex::new(Schedule {
                deferred: VecDeque::new(),
                held: HashMap::new(),
            }),
            batch_ended: Condvar::new(),
            shared: threads > 1,
            deferred_max: deferred_max.max(1),
        }
    }

    /// The next batch for writer thread `writer`: blocks until at least one command is free to
    /// run, then takes whatever else is waiting and free, up to `batch_max`. `None` once the
    /// queue is closed and drained.
    pub fn next_batch(&self, writer: usize, batch_max: usize) -> Option<Vec<J>> {
        let batch_max = batch_max.max(1);
        let mut receiver = lock(&self.receiver);
        if !self.shared {
            let first = receiver.blocking_recv()?;
            let mut jobs = Vec::with_capacity(batch_max.min(64));
            jobs.push(first);
            while jobs.len() < batch_max {
                match receiver.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            return Some(jobs);
        }
        loop {
            let mut schedule = lock(&self.schedule);
            let mut jobs = Vec::with_capacity(batch_max.min(64));
            // Claims of commands left waiting: a later command with the same claim waits too,
            // so one account's commands start in the order they arrived.
            let mut passed_over: HashSet<Claim> = HashSet::new();
            let waiting = std::mem::take(&mut schedule.deferred);
            for job in waiting {
                schedule.place(job, writer, batch_max, &mut jobs, &mut passed_over);
            }
            let mut closed = false;
            while jobs.len() < batch_max && schedule.deferred.len() < self.deferred_max {
                match receiver.try_recv() {
                    Ok(job) => schedule.place(job, writer, batch_max, &mut jobs, &mut passed_over),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
            if !jobs.is_empty() {
                for job in &jobs {
                    for claim in job.claims() {
                        schedule.held.insert(*claim, writer);
                    }
                }
                return Some(jobs);
            }
            if schedule.deferred.is_empty() {
                if closed {
                    return None;
                }
                drop(schedule);
                let job = receiver.blocking_recv()?;
                lock(&self.schedule).deferred.push_back(job);
                continue;
            }
            // Everything waiting conflicts with another thread's batch: wait for one to end.
            let _ = self
                .batch_ended
                .wait_timeout(schedule, RECHECK)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Writer thread `writer`'s batch has ended (committed or not): its claims are free.
    pub fn batch_done(&self, writer: usize) {
        if !self.shared {
            return;
        }
        lock(&self.schedule)
            .held
            .retain(|_, owner| *owner != writer);
        self.batch_ended.notify_all();
    }
}

impl<J: Claims> Schedule<J> {
    /// Puts `job` in this batch if nothing it claims is held by another thread or passed over.
    fn place(
        &mut self,
        job: J,
        writer: usize,
        batch_max: usize,
        jobs: &mut Vec<J>,
        passed_over: &mut HashSet<Claim>,
    ) {
        let free = jobs.len() < batch_max
            && job.claims().iter().all(|claim| {
                !passed_over.contains(claim)
                    && self.held.get(claim).is_none_or(|owner| *owner == writer)
            });
        if free {
            jobs.push(job);
        } else {
            passed_over.extend(job.claims().iter().copied());
            self.deferred.push_back(job);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TestJob(u32, Vec<Claim>);

    impl Claims for TestJob {
        fn claims(&self) -> &[Claim] {
            &self.1
        }
    }

    fn job(n: u32, accounts: &[i64]) -> TestJob {
        TestJob(n, accounts.iter().map(|a| Claim::Account(*a)).collect())
    }

    fn numbers(jobs: &[TestJob]) -> Vec<u32> {
        jobs.iter().map(|j| j.0).collect()
    }

    #[test]
    fn a_second_thread_skips_what_the_first_holds_and_gets_it_once_released() {
        let (tx, rx) = mpsc::channel(16);
        let intake = Intake::new(rx, 2, 16);
        for j in [job(1, &[1, 2]), job(2, &[3, 4])] {
            assert!(tx.try_send(j).is_ok());
        }
        let first = intake.next_batch(0, 1);
        assert_eq!(first.as_deref().map(numbers), Some(vec![1]));
        for j in [job(3, &[2, 5]), job(4, &[6, 7]), job(5, &[5, 8])] {
            assert!(tx.try_send(j).is_ok());
        }
        // Thread 1 takes 2 and 4; 3 touches account 2 (held by thread 0), and 5 shares account 5
        // with 3, so it waits behind 3 to keep the order on account 5.
        let second = intake.next_batch(1, 10);
        assert_eq!(second.as_deref().map(numbers), Some(vec![2, 4]));
        intake.batch_done(0);
        let third = intake.next_batch(0, 10);
        assert_eq!(third.as_deref().map(numbers), Some(vec![3, 5]));
    }

    #[test]
    fn a_thread_whose_every_command_conflicts_waits_for_the_batch_to_end() {
        let (tx, rx) = mpsc::channel(16);
        let intake = std::sync::Arc::new(Intake::new(rx, 2, 16));
        assert!(tx.try_send(job(1, &[1])).is_ok());
        assert_eq!(
            intake.next_batch(0, 10).as_deref().map(numbers),
            Some(vec![1])
        );
        assert!(tx.try_send(job(2, &[1])).is_ok());
        let waiter = {
            let intake = std::sync::Arc::clone(&intake);
            std::thread::spawn(move || intake.next_batch(1, 10).as_deref().map(numbers))
        };
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !waiter.is_finished(),
            "job 2 ran while job 1 held account 1"
        );
        intake.batch_done(0);
        assert_eq!(waiter.join().ok().flatten(), Some(vec![2]));
    }

    #[test]
    fn one_thread_takes_everything_in_order_and_a_closed_queue_ends_it() {
        let (tx, rx) = mpsc::channel(16);
        let intake = Intake::new(rx, 1, 16);
        for j in [job(1, &[1]), job(2, &[1]), job(3, &[2])] {
            assert!(tx.try_send(j).is_ok());
        }
        drop(tx);
        assert_eq!(
            intake.next_batch(0, 2).as_deref().map(numbers),
            Some(vec![1, 2])
        );
        assert_eq!(
            intake.next_batch(0, 2).as_deref().map(numbers),
            Some(vec![3])
        );
        assert!(intake.next_batch(0, 2).is_none());
    }

    #[test]
    fn a_closed_queue_still_hands_out_what_was_deferred() {
        let (tx, rx) = mpsc::channel(16);
        let intake = Intake::new(rx, 2, 16);
        for j in [job(1, &[1]), job(2, &[1])] {
            assert!(tx.try_send(j).is_ok());
        }
        drop(tx);
        assert_eq!(
            intake.next_batch(0, 1).as_deref().map(numbers),
            Some(vec![1])
        );
        intake.batch_done(0);
        assert_eq!(
            intake.next_batch(1, 1).as_deref().map(numbers),
            Some(vec![2])
        );
        intake.batch_done(1);
        assert!(intake.next_batch(0, 1).is_none());
    }
}
