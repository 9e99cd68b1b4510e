//! Turns being generated right now: their text so far and a broadcast of new events, so a viewer
//! who (re)connects gets everything from the start and then follows live. When the last viewer
//! has been gone for the grace period, the generation is cancelled (the upstream requests drop).

use crate::error::{ArenaError, ArenaResult};
use crate::voters::VoterId;
use arena_domain::Side;
use arena_domain::api::StreamEvent;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Default)]
struct SideState {
    text: String,
    last: Option<StreamEvent>,
}

struct State {
    sides: [SideState; 2],
    viewers: usize,
    finished: bool,
}

pub struct LiveTurn {
    pub turn_id: Uuid,
    pub cancel: CancellationToken,
    tx: broadcast::Sender<StreamEvent>,
    state: Mutex<State>,
    grace: Duration,
}

fn index(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

impl LiveTurn {
    fn new(turn_id: Uuid, grace: Duration) -> Arc<Self> {
        let (tx, _) = broadcast::channel(1024);
        Arc::new(Self {
            turn_id,
            cancel: CancellationToken::new(),
            tx,
            state: Mutex::new(State {
                sides: Default::default(),
                viewers: 0,
                finished: false,
            }),
            grace,
        })
    }

    /// Records and broadcasts an event. Sending under the lock keeps snapshots consistent.
    pub fn publish(&self, event: StreamEvent) {
        let mut state = self.state.lock().expect("live lock");
        let side = &mut state.sides[index(event.side())];
        match &event {
            StreamEvent::Delta { text, .. } => side.text.push_str(text),
            _ => side.last = Some(event.clone()),
        }
        let _ = self.tx.send(event);
    }

    /// Everything so far (as at most one delta and one final event per side), plus a receiver
    /// for what comes next, and a guard that counts this viewer until dropped.
    pub fn subscribe(
        self: &Arc<Self>,
    ) -> (
        Vec<StreamEvent>,
        broadcast::Receiver<StreamEvent>,
        ViewerGuard,
    ) {
        let mut state = self.state.lock().expect("live lock");
        let mut snapshot = Vec::new();
        for side in Side::BOTH {
            let s = &state.sides[index(side)];
            if !s.text.is_empty() {
                snapshot.push(StreamEvent::Delta {
                    side,
                    text: s.text.clone(),
                });
            }
            if let Some(last) = &s.last {
                snapshot.push(last.clone());
            }
        }
        state.viewers += 1;
        let rx = self.tx.subscribe();
        (
            snapshot,
            rx,
            ViewerGuard {
                turn: Arc::clone(self),
            },
        )
    }

    /// The text of one side so far.
    pub fn text(&self, side: Side) -> String {
        self.state.lock().expect("live lock").sides[index(side)]
            .text
            .clone()
    }

    pub fn mark_finished(&self) {
        self.state.lock().expect("live lock").finished = true;
    }

    /// Starts the abandonment timer if nobody watches.
    fn watch_abandonment(self: &Arc<Self>) {
        let turn = Arc::clone(self);
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(turn.grace) => {}
                _ = turn.cancel.cancelled() => return,
            }
            let state = turn.state.lock().expect("live lock");
            if state.viewers == 0 && !state.finished {
                tracing::info!(turn.id = %turn.turn_id, "no viewer left: cancelling generation");
                turn.cancel.cancel();
            }
        });
    }
}

pub struct ViewerGuard {
    turn: Arc<LiveTurn>,
}

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        let left_alone = {
            let mut state = self.turn.state.lock().expect("live lock");
            state.viewers -= 1;
            state.viewers == 0 && !state.finished
        };
        if left_alone && tokio::runtime::Handle::try_current().is_ok() {
            self.turn.watch_abandonment();
        }
    }
}

/// Who asks for a generation: the voter and the client address (absent for in-process
/// callers such as tests and the command line).
#[derive(Debug, Clone, Copy)]
pub struct Requester {
    pub voter: VoterId,
    pub address: Option<IpAddr>,
}

impl Requester {
    pub fn new(voter: VoterId, address: Option<IpAddr>) -> Self {
        Self { voter, address }
    }
}

/// Generations running now per voter and per client address.
#[derive(Default)]
struct Holders {
    voters: HashMap<Uuid, usize>,
    addresses: HashMap<IpAddr, usize>,
}

/// One generation's place in the per-voter and per-address caps, given back when dropped (when
/// the generation ends, or when the request fails before it starts).
pub struct GenerationSlot {
    holders: Arc<Mutex<Holders>>,
    voter: Uuid,
    address: Option<IpAddr>,
}

impl Drop for GenerationSlot {
    fn drop(&mut self) {
        let mut holders = self.holders.lock().expect("holders lock");
        fn release<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
            if let Some(n) = map.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    map.remove(key);
                }
            }
        }
        release(&mut holders.voters, &self.voter);
        if let Some(address) = self.address {
            release(&mut holders.addresses, &crate::limits::address_key(address));
        }
    }
}

/// Live turns by battle id (a battle generates at most one turn at a time).
#[derive(Clone, Default)]
pub struct LiveTurns {
    turns: Arc<Mutex<HashMap<Uuid, Arc<LiveTurn>>>>,
    holders: Arc<Mutex<Holders>>,
}

impl LiveTurns {
    /// Takes a place for one more generation of this requester, or refuses (429) when the voter
    /// or the address already has its cap running: a flood cannot fill the worker queues.
    pub fn reserve(
        &self,
        requester: Requester,
        per_voter: usize,
        per_address: usize,
    ) -> ArenaResult<GenerationSlot> {
        let mut holders = self.holders.lock().expect("holders lock");
        let voter = requester.voter.0;
        let address = requester.address.map(crate::limits::address_key);
        let busy = |message: &str| {
            ArenaError::rate_limited(
                "too_many_generating",
                message,
                std::time::Duration::from_secs(5),
            )
        };
        if holders.voters.get(&voter).copied().unwrap_or(0) >= per_voter {
            return Err(busy(
                "your other battles are still being answered; wait for them to finish",
            ));
        }
        if let Some(a) = address
            && holders.addresses.get(&a).copied().unwrap_or(0) >= per_address
        {
            return Err(busy(
                "too many battles are being answered for your network address; try again shortly",
            ));
        }
        *holders.voters.entry(voter).or_default() += 1;
        if let Some(a) = address {
            *holders.addresses.entry(a).or_default() += 1;
        }
        Ok(GenerationSlot {
            holders: Arc::clone(&self.holders),
            voter,
            address: requester.address,
        })
    }

    pub fn start(&self, battle_id: Uuid, turn_id: Uuid, grace: Duration) -> Arc<LiveTurn> {
        let turn = LiveTurn::new(turn_id, grace);
        self.turns
            .lock()
            .expect("live lock")
            .insert(battle_id, Arc::clone(&turn));
        turn.watch_abandonment();
        turn
    }

    pub fn get(&self, battle_id: Uuid) -> Option<Arc<LiveTurn>> {
        self.turns
            .lock()
            .expect("live lock")
            .get(&battle_id)
            .cloned()
    }

    pub fn finish(&self, battle_id: Uuid, turn_id: Uuid) {
        let mut turns = self.turns.lock().expect("live lock");
        if turns.get(&battle_id).is_some_and(|t| t.turn_id == turn_id) {
            turns.remove(&battle_id);
        }
    }

    /// Number of turns generating now (for metrics and leak tests).
    pub fn len(&self) -> usize {
        self.turns.lock().expect("live lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cancels every generation (shutdown).
    pub fn cancel_all(&self) {
        for turn in self.turns.lock().expect("live lock").values() {
            turn.cancel.cancel();
        }
    }
}
