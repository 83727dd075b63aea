//! Combining: writes of one kind that wait for the same batch become one statement (a
//! multi-row insert, a delete of many ids) instead of one each. Callers join the open group;
//! the first of a group hands the batcher one write that takes the whole group when it runs,
//! so everything that joined until then shares the statement. Each caller is answered after
//! the batch committed, as with any write of the batcher.
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use sea_orm::DbErr;
use tokio::sync::oneshot;

use super::{Batch, WriteBatcher};

/// Most items in one statement (SQLite allows 32,766 bound values; a queue row has 9), and
/// never more than a batch may hold writes (`database.group_commit_rows`; 1 writes each item
/// on its own).
const MAX_ITEMS: usize = 256;

/// The statement that writes a group's items.
pub type Apply<T> = fn(Vec<T>, Batch) -> BoxFuture<'static, Result<(), DbErr>>;

/// One statement's worth of items and their callers.
struct Group<T> {
    id: u64,
    items: Vec<T>,
    waiters: Vec<oneshot::Sender<()>>,
}

struct Open<T> {
    next_id: u64,
    groups: VecDeque<Group<T>>,
}

impl<T> Open<T> {
    fn take(&mut self, id: u64) -> Option<Group<T>> {
        let index = self.groups.iter().position(|group| group.id == id)?;
        self.groups.remove(index)
    }
}

/// Combines items of one kind into one statement per batch; cheap to clone.
pub struct Combiner<T> {
    writes: WriteBatcher,
    apply: Apply<T>,
    max_items: usize,
    open: Arc<Mutex<Open<T>>>,
}

impl<T> Clone for Combiner<T> {
    fn clone(&self) -> Self {
        Self {
            writes: self.writes.clone(),
            apply: self.apply,
            max_items: self.max_items,
            open: self.open.clone(),
        }
    }
}

impl<T: Send + 'static> Combiner<T> {
    /// A combiner writing through `writes`, whose statement for a group is `apply`.
    pub fn new(writes: WriteBatcher, apply: Apply<T>) -> Self {
        Self {
            max_items: writes.limits().max_rows.clamp(1, MAX_ITEMS),
            writes,
            apply,
            open: Arc::new(Mutex::new(Open {
                next_id: 0,
                groups: VecDeque::new(),
            })),
        }
    }

    /// Writes `item` with the others of its group; returns once the batch committed.
    pub async fn write(&self, item: T) -> Result<(), DbErr> {
        let (done, committed) = oneshot::channel();
        let lead = {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            match open.groups.back_mut() {
                Some(group) if group.items.len() < self.max_items => {
                    group.items.push(item);
                    group.waiters.push(done);
                    None
                }
                _ => {
                    let id = open.next_id;
                    open.next_id += 1;
                    open.groups.push_back(Group {
                        id,
                        items: vec![item],
                        waiters: vec![done],
                    });
                    Some(id)
                }
            }
        };
        if let Some(id) = lead {
            // A task of its own: the group's other callers wait on it even if this caller
            // goes away (a client that hung up).
            tokio::spawn(self.lead(id));
        }
        committed
            .await
            .map_err(|_| DbErr::Custom("the batch holding this write was not committed".into()))
    }

    /// Hands the batcher the write of group `id`; its callers hear Ok once it committed. If
    /// it did not, their answers are dropped, which they hear as an error.
    fn lead(&self, id: u64) -> impl Future<Output = ()> + Send + 'static {
        let (open, apply, writes) = (self.open.clone(), self.apply, self.writes.clone());
        async move {
            let taken = open.clone();
            let written = writes
                .write(move |batch| async move {
                    let group = taken
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .take(id)
                        .ok_or_else(|| DbErr::Custom("a combined write lost its group".into()))?;
                    apply(group.items, batch).await?;
                    Ok(group.waiters)
                })
                .await;
            match written {
                Ok(waiters) => {
                    for waiter in waiters {
                        let _ = waiter.send(());
                    }
                }
                // A batch that failed before this write ran left the group open: closing it
                // answers its callers with an error.
                Err(_) => drop(open.lock().unwrap_or_else(|e| e.into_inner()).take(id)),
            }
        }
    }
}
