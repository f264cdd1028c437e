//! The response context of a stateful proxy (RFC 3261 §16.7): the branches of one
//! forwarded request, forking over them by q-value (§16.6 step 1, §16.2), Timer C
//! (§16.6 step 11, §16.8), CANCEL (§16.10) and the choice of the final response upstream
//! (§16.7 steps 5–7).
//!
//! Sans-IO: a [`ResponseContext`] is told what happened (a response on a branch, a branch
//! that timed out, an upstream CANCEL, the passing of time) and answers with [`Action`]s
//! for the caller to carry out (start a branch, send a CANCEL on one, forward a response
//! upstream, answer upstream itself). It never reads a clock: every call takes `now`.
//!
//! Targets are tried in groups of equal q-value, highest first: the targets of one group
//! in parallel, the next group only when every branch of the current one failed
//! (serial forking, as Kamailio's `t_load_contacts`/`t_next_contacts`). The first 2xx
//! wins and every other pending branch is cancelled; a 6xx ends the search likewise.
//!
//! A branch that has received no provisional response cannot be cancelled (§9.1); when
//! the context gives up on it (upstream CANCEL, Timer C) it counts as answered locally
//! (487, 408), as Kamailio's `cancel_b_method` 0 does, and is cancelled after all if a
//! provisional response comes later.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use sip::{HeaderName, Message};

/// A branch of the context, numbered from 0 in the order they were started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BranchId(pub usize);

/// What the caller must do.
// A response travels in `Forward` by value: actions are short-lived, and boxing would cost
// an allocation per forwarded response.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Action {
    /// Forward the request to target number `target` (an index into the targets the
    /// context was created with) at its next hop number `hop`, as a new branch `branch`:
    /// §16.6, a new client transaction.
    Start {
        /// The new branch.
        branch: BranchId,
        /// Which target.
        target: usize,
        /// Which of the target's next hops (RFC 3263 failover: the next one after a
        /// timeout or 503).
        hop: usize,
    },
    /// Send a CANCEL for this branch's request (§9.1); it has received a provisional
    /// response.
    Cancel(BranchId),
    /// Forward this response upstream through the server transaction; its top Via (ours)
    /// is already removed (§16.7 step 3).
    Forward(Message),
    /// Answer upstream with a final response generated here (no branch answered).
    Reply {
        /// Status code.
        code: u16,
        /// Reason phrase; `None` for the standard one.
        reason: Option<String>,
    },
}

/// Call forwarding on failure (a subscriber's `forward-busy` and `forward-no-answer`):
/// targets kept aside and tried only when the call fails that way.
#[derive(Debug, Clone, Default)]
pub struct Fallbacks {
    /// Tried when the call ends busy (486, 600).
    pub busy: Vec<usize>,
    /// Tried when nobody answers: after [`Fallbacks::no_answer_after`], or when the call
    /// fails with 408 or 480.
    pub no_answer: Vec<usize>,
    /// How long the first targets ring before the `no_answer` ones take over.
    pub no_answer_after: Option<Duration>,
    /// With no `no_answer` targets, still stop ringing after `no_answer_after`: the
    /// branches are cancelled and the call fails with 408, for the failure phase
    /// (voicemail) to take.
    pub end_on_no_answer: bool,
}

/// Settings of a context.
#[derive(Debug, Clone, Copy)]
pub struct ContextConfig {
    /// Whether the request is an INVITE (Timer C, CANCEL, 2xx handling apply).
    pub invite: bool,
    /// Timer C (§16.6 step 11): how long an INVITE branch may stay without a final
    /// response after its last provisional one (Kamailio `fr_inv_timer`).
    pub timer_c: Duration,
    /// How long to wait for the final response after sending a CANCEL before counting the
    /// branch as answered (§9.1: 64*T1).
    pub cancel_wait: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BranchState {
    /// Request sent, nothing received.
    Trying,
    /// A provisional response received.
    Proceeding,
    /// CANCEL sent; waiting for the final response.
    Cancelling,
    /// A final response received, or answered locally.
    Done,
}

#[derive(Debug)]
struct Branch {
    target: usize,
    hop: usize,
    state: BranchState,
    /// Timer C while proceeding, or the CANCEL wait.
    deadline: Option<Instant>,
    /// Given up on before any provisional response: send CANCEL if one arrives.
    cancel_on_provisional: bool,
    /// Cancelled by Timer C: its 487 means "no answer in time", 408 upstream (as
    /// Kamailio's `fr_inv_timer` does).
    timed_out: bool,
    /// Cancelled because the no-answer forwarding took over: its answer is not a
    /// candidate.
    superseded: bool,
}

/// A final response that may be sent upstream.
// By value, as in `Action`: a candidate lives until the branches are settled.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Candidate {
    /// Received from a branch (top Via already removed).
    Received(Message),
    /// Generated here for a branch given up on (408, 487) or that failed to send.
    Local(u16),
}

impl Candidate {
    fn code(&self) -> u16 {
        match self {
            Candidate::Received(m) => m.status().unwrap_or(500),
            Candidate::Local(code) => *code,
        }
    }
}

/// The state of one forwarded request. See the module docs.
#[derive(Debug)]
pub struct ResponseContext {
    config: ContextConfig,
    /// How many next hops each target has.
    hops: Vec<usize>,
    /// Target indexes not yet tried, by group of equal q (highest first).
    groups: VecDeque<Vec<usize>>,
    branches: Vec<Branch>,
    candidates: Vec<Candidate>,
    /// A final response went upstream (a 2xx, or the chosen non-2xx).
    final_sent: bool,
    /// No new branches: upstream CANCEL, a 2xx or a 6xx arrived (§16.7 step 5, §16.10).
    closed: bool,
    /// Why the context was closed by an upstream CANCEL: branches given up answer 487.
    cancelled: bool,
    /// Forwarding on failure, not yet used.
    fallbacks: Fallbacks,
    /// When the no-answer forwarding takes over.
    no_answer_at: Option<Instant>,
}

impl ResponseContext {
    /// Creates the context for targets given as (q-value 0–1000, as in
    /// [`crate::location::Binding::q`]; number of next hops, at least 1) and starts the
    /// first group. With no targets it answers 480 at once (the caller normally answers
    /// before creating a context).
    pub fn new(
        config: ContextConfig,
        targets: &[(u16, usize)],
        now: Instant,
    ) -> (ResponseContext, Vec<Action>) {
        ResponseContext::with_fallbacks(config, targets, Fallbacks::default(), now)
    }

    /// Like [`ResponseContext::new`], with the targets named in `fallbacks` kept for
    /// forwarding on busy or no answer.
    pub fn with_fallbacks(
        config: ContextConfig,
        targets: &[(u16, usize)],
        fallbacks: Fallbacks,
        now: Instant,
    ) -> (ResponseContext, Vec<Action>) {
        let qs: Vec<u16> = targets.iter().map(|(q, _)| *q).collect();
        let mut order: Vec<usize> = (0..qs.len())
            .filter(|i| !fallbacks.busy.contains(i) && !fallbacks.no_answer.contains(i))
            .collect();
        // Stable: equal q keep the caller's order (most recent registration first).
        order.sort_by(|a, b| qs[*b].cmp(&qs[*a]));
        let mut groups: VecDeque<Vec<usize>> = VecDeque::new();
        for index in order {
            match groups.back_mut() {
                Some(group) if qs[group[0]] == qs[index] => group.push(index),
                _ => groups.push_back(vec![index]),
            }
        }
        let mut ctx = ResponseContext {
            config,
            hops: targets.iter().map(|(_, n)| (*n).max(1)).collect(),
            groups,
            branches: Vec::new(),
            candidates: Vec::new(),
            final_sent: false,
            closed: false,
            cancelled: false,
            no_answer_at: fallbacks
                .no_answer_after
                .filter(|_| !fallbacks.no_answer.is_empty() || fallbacks.end_on_no_answer)
                .map(|after| now + after),
            fallbacks,
        };
        let mut actions = Vec::new();
        ctx.start_next_group(now, &mut actions);
        if ctx.branches.is_empty() {
            // No target at all (a subscriber with no phone whose voicemail takes the
            // call): the set-up fails at once, 480, for the failure phase.
            ctx.advance(now, &mut actions);
        }
        (ctx, actions)
    }

    /// Whether a final response has gone upstream and no branch is pending: the context
    /// can be forgotten.
    pub fn is_finished(&self) -> bool {
        self.final_sent && self.pending() == 0
    }

    /// Whether the request is an INVITE.
    pub fn is_invite(&self) -> bool {
        self.config.invite
    }

    /// Whether the caller cancelled the request (§16.10).
    pub fn cancelled(&self) -> bool {
        self.cancelled
    }

    /// Whether a final response has gone upstream.
    pub fn final_sent(&self) -> bool {
        self.final_sent
    }

    /// Number of branches started.
    pub fn branch_count(&self) -> usize {
        self.branches.len()
    }

    fn pending(&self) -> usize {
        self.branches
            .iter()
            .filter(|b| b.state != BranchState::Done)
            .count()
    }

    /// The earliest deadline (Timer C or a CANCEL wait), if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.branches
            .iter()
            .filter_map(|b| b.deadline)
            .chain(self.no_answer_at)
            .min()
    }

    fn start_next_group(&mut self, now: Instant, actions: &mut Vec<Action>) {
        let Some(group) = self.groups.pop_front() else {
            return;
        };
        for target in group {
            self.start_branch(now, target, 0, actions);
        }
    }

    fn start_branch(&mut self, now: Instant, target: usize, hop: usize, actions: &mut Vec<Action>) {
        let branch = BranchId(self.branches.len());
        self.branches.push(Branch {
            target,
            hop,
            state: BranchState::Trying,
            // §16.6 step 11: Timer C starts with the forwarded INVITE.
            deadline: self.config.invite.then(|| now + self.config.timer_c),
            cancel_on_provisional: false,
            timed_out: false,
            superseded: false,
        });
        actions.push(Action::Start {
            branch,
            target,
            hop,
        });
    }

    /// RFC 3263 §4.3: a branch whose next hop did not answer (408) or answered 503 is
    /// retried at the target's next hop, unless the search is over; likewise any other
    /// 5xx (a gateway that fails, as Kamailio's dispatcher fails over).
    fn fail_over(
        &mut self,
        now: Instant,
        branch: BranchId,
        code: u16,
        actions: &mut Vec<Action>,
    ) -> bool {
        let Some(b) = self.branches.get(branch.0) else {
            return false;
        };
        let (target, next) = (b.target, b.hop + 1);
        if self.closed || !matches!(code, 408 | 500..=599) || next >= self.hops[target] {
            return false;
        }
        self.start_branch(now, target, next, actions);
        true
    }

    /// A response arrived on `branch` (from its client transaction).
    pub fn on_response(
        &mut self,
        now: Instant,
        branch: BranchId,
        response: Message,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        let Some(status) = response.status() else {
            return actions;
        };
        let Some(b) = self.branches.get_mut(branch.0) else {
            return actions;
        };
        if status < 200 {
            match b.state {
                BranchState::Trying => {
                    b.state = BranchState::Proceeding;
                    if self.closed {
                        // Given up on while it was silent (a race with upstream CANCEL
                        // would not reach here: those are Done); cancel now.
                        b.state = BranchState::Cancelling;
                        b.deadline = Some(now + self.config.cancel_wait);
                        actions.push(Action::Cancel(branch));
                        return actions;
                    }
                }
                BranchState::Done if b.cancel_on_provisional => {
                    b.cancel_on_provisional = false;
                    actions.push(Action::Cancel(branch));
                    return actions;
                }
                _ => {}
            }
            // §16.7 step 2: Timer C restarts with every provisional response but 100.
            if status > 100 && b.state == BranchState::Proceeding && self.config.invite {
                b.deadline = Some(now + self.config.timer_c);
            }
            // §16.7 step 5: provisional responses but 100 are forwarded at once.
            if status > 100 && !self.final_sent {
                if let Some(up) = without_top_via(&response) {
                    actions.push(Action::Forward(up));
                }
            }
            return actions;
        }
        let was_done = b.state == BranchState::Done;
        let timed_out = b.timed_out;
        let superseded = b.superseded;
        b.state = BranchState::Done;
        b.deadline = None;
        b.cancel_on_provisional = false;
        if (200..300).contains(&status) {
            // §16.7 step 5: every 2xx goes upstream at once, even after another one (a
            // forked INVITE may be accepted by several UAs; the caller sorts it out).
            if let Some(up) = without_top_via(&response) {
                actions.push(Action::Forward(up));
            }
            self.final_sent = true;
            if self.config.invite {
                // §16.7 step 10: cancel every other pending branch; no new ones.
                self.close(now, &mut actions, false);
            }
            return actions;
        }
        if was_done {
            // A late final response on a branch answered locally: already counted.
            return actions;
        }
        if self.fail_over(now, branch, status, &mut actions) {
            return actions;
        }
        if superseded {
            // Cancelled for the no-answer forwarding: not an answer to the caller.
        } else if timed_out && status == 487 {
            self.candidates.push(Candidate::Local(408));
        } else if let Some(up) = without_top_via(&response) {
            self.candidates.push(Candidate::Received(up));
        }
        if status >= 600 {
            // §16.7 step 5: a 6xx ends the search; pending branches are cancelled.
            self.close(now, &mut actions, false);
        }
        self.advance(now, &mut actions);
        actions
    }

    /// The client transaction of `branch` timed out (Timer B or F): as a 408 (§16.7 step
    /// 1, §8.1.3.1). Also for a branch whose request could not be sent (`code` 503,
    /// §16.9).
    pub fn on_branch_failed(&mut self, now: Instant, branch: BranchId, code: u16) -> Vec<Action> {
        let mut actions = Vec::new();
        if let Some(b) = self.branches.get_mut(branch.0) {
            if b.state != BranchState::Done {
                b.state = BranchState::Done;
                b.deadline = None;
                if !self.fail_over(now, branch, code, &mut actions) {
                    if !b_superseded(&self.branches, branch) {
                        self.candidates.push(Candidate::Local(code));
                    }
                    self.advance(now, &mut actions);
                }
            }
        }
        actions
    }

    /// The upstream client cancelled the request (§16.10): every pending branch is
    /// cancelled, and no new branch starts; the final response (normally a 487 from a
    /// branch) goes upstream once every branch has answered.
    pub fn cancel(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.final_sent {
            return actions;
        }
        self.close(now, &mut actions, true);
        self.advance(now, &mut actions);
        actions
    }

    /// Fires due deadlines: Timer C (§16.8), CANCEL waits and the no-answer forwarding.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        let mut changed = false;
        if self.no_answer_at.is_some_and(|at| at <= now) {
            self.no_answer_at = None;
            if !self.final_sent && !self.cancelled {
                self.supersede(now, &mut actions);
                // With no target to forward to, the call may be over already.
                changed = true;
            }
        }
        for (i, b) in self.branches.iter_mut().enumerate() {
            let Some(deadline) = b.deadline else { continue };
            if deadline > now {
                continue;
            }
            b.deadline = None;
            match b.state {
                // §16.8: Timer C fired on a branch with a provisional response: CANCEL it.
                BranchState::Proceeding => {
                    b.state = BranchState::Cancelling;
                    b.deadline = Some(now + self.config.cancel_wait);
                    b.timed_out = true;
                    actions.push(Action::Cancel(BranchId(i)));
                }
                // §16.8: no response at all: as if a 408 had arrived.
                BranchState::Trying => {
                    b.state = BranchState::Done;
                    b.cancel_on_provisional = true;
                    self.candidates.push(Candidate::Local(408));
                    changed = true;
                }
                // §9.1: the CANCEL was not answered by a final response in 64*T1.
                BranchState::Cancelling => {
                    b.state = BranchState::Done;
                    let code = if self.cancelled && !b.timed_out {
                        487
                    } else {
                        408
                    };
                    if !b.superseded {
                        self.candidates.push(Candidate::Local(code));
                    }
                    changed = true;
                }
                BranchState::Done => {}
            }
        }
        if changed {
            self.advance(now, &mut actions);
        }
        actions
    }

    /// Stops the search: pending branches are cancelled (those with a provisional
    /// response) or given up (the others), and no group starts.
    fn close(&mut self, now: Instant, actions: &mut Vec<Action>, by_cancel: bool) {
        self.closed = true;
        self.cancelled |= by_cancel;
        self.groups.clear();
        for (i, b) in self.branches.iter_mut().enumerate() {
            match b.state {
                BranchState::Proceeding => {
                    b.state = BranchState::Cancelling;
                    b.deadline = Some(now + self.config.cancel_wait);
                    actions.push(Action::Cancel(BranchId(i)));
                }
                BranchState::Trying => {
                    b.state = BranchState::Done;
                    b.deadline = None;
                    b.cancel_on_provisional = true;
                    self.candidates.push(Candidate::Local(487));
                }
                BranchState::Cancelling | BranchState::Done => {}
            }
        }
    }

    /// No answer in time: the ringing branches are cancelled (their answers no longer
    /// count) and the no-answer targets start.
    fn supersede(&mut self, now: Instant, actions: &mut Vec<Action>) {
        self.groups.clear();
        for (i, b) in self.branches.iter_mut().enumerate() {
            match b.state {
                BranchState::Proceeding => {
                    b.state = BranchState::Cancelling;
                    b.deadline = Some(now + self.config.cancel_wait);
                    b.superseded = true;
                    actions.push(Action::Cancel(BranchId(i)));
                }
                BranchState::Trying => {
                    b.state = BranchState::Done;
                    b.deadline = None;
                    b.cancel_on_provisional = true;
                    b.superseded = true;
                }
                BranchState::Cancelling | BranchState::Done => {}
            }
        }
        let targets = std::mem::take(&mut self.fallbacks.no_answer);
        self.candidates.clear();
        if targets.is_empty() {
            // Nobody to forward to: the call fails as not answered (failure phase).
            self.candidates.push(Candidate::Local(408));
        }
        for target in targets {
            self.start_branch(now, target, 0, actions);
        }
    }

    /// After a branch completed: start the next group when the current one has failed,
    /// forward on busy or no answer, or send the best final response when nothing is
    /// pending.
    fn advance(&mut self, now: Instant, actions: &mut Vec<Action>) {
        if self.final_sent || self.pending() > 0 {
            return;
        }
        if !self.closed && !self.groups.is_empty() {
            self.start_next_group(now, actions);
            return;
        }
        if !self.cancelled {
            let best = self
                .candidates
                .iter()
                .map(Candidate::code)
                .min_by_key(|c| rank(*c));
            let fallback = match best {
                Some(486 | 600) => std::mem::take(&mut self.fallbacks.busy),
                Some(408 | 480) => std::mem::take(&mut self.fallbacks.no_answer),
                _ => Vec::new(),
            };
            if !fallback.is_empty() {
                // The forward target's answer is the caller's now.
                self.candidates.clear();
                self.closed = false;
                self.no_answer_at = None;
                for target in fallback {
                    self.start_branch(now, target, 0, actions);
                }
                return;
            }
        }
        self.final_sent = true;
        actions.push(self.best_response());
    }

    /// §16.7 step 6: the response to send upstream when no 2xx arrived. A 6xx if there is
    /// one; else the lowest class, preferring 401, 407, 415, 420 and 484 within 4xx; 503
    /// becomes 500; the challenges of every 401/407 are gathered into the chosen one
    /// (§16.7 step 7).
    fn best_response(&mut self) -> Action {
        let best = self
            .candidates
            .iter()
            .enumerate()
            .min_by_key(|(i, c)| (rank(c.code()), *i))
            .map(|(i, _)| i);
        let Some(best) = best else {
            return Action::Reply {
                code: 480,
                reason: Some("No destination answered".into()),
            };
        };
        let chosen = self.candidates.swap_remove(best);
        match chosen {
            Candidate::Local(code) => Action::Reply { code, reason: None },
            Candidate::Received(response) => {
                let code = response.status().unwrap_or(500);
                if code == 503 {
                    // §16.7 step 6: a 503 must not make the caller think this proxy is
                    // unavailable.
                    return Action::Reply {
                        code: 500,
                        reason: Some("Next hop unavailable".into()),
                    };
                }
                if code == 401 || code == 407 {
                    return Action::Forward(self.with_all_challenges(response));
                }
                Action::Forward(response)
            }
        }
    }

    /// Adds the WWW-Authenticate and Proxy-Authenticate values of the other 401/407
    /// responses to `response` (§16.7 step 7).
    fn with_all_challenges(&self, response: Message) -> Message {
        let mut extra = Vec::new();
        for c in &self.candidates {
            if let Candidate::Received(m) = c {
                if matches!(m.status(), Some(401 | 407)) {
                    for name in [HeaderName::WwwAuthenticate, HeaderName::ProxyAuthenticate] {
                        for value in m.header_values(name) {
                            extra.push((name, value.to_owned()));
                        }
                    }
                }
            }
        }
        if extra.is_empty() {
            return response;
        }
        let mut edit = response.edit();
        for (name, value) in &extra {
            if edit.append(*name, value).is_err() {
                return response.clone();
            }
        }
        edit.finish().unwrap_or_else(|_| response.clone())
    }
}

fn b_superseded(branches: &[Branch], branch: BranchId) -> bool {
    branches.get(branch.0).is_some_and(|b| b.superseded)
}

/// Order of preference of final responses (lower is better), §16.7 step 6.
fn rank(code: u16) -> u32 {
    let class = u32::from(code / 100);
    match code {
        600..=699 => 0,
        // Within 4xx these carry something the caller can act on.
        401 | 407 | 415 | 420 | 484 => class * 1000,
        _ => class * 1000 + u32::from(code % 100) + 1,
    }
}

/// The response with our top Via removed (§16.7 step 3); `None` when it cannot be
/// rewritten (it is dropped, as a response without a Via for the next hop would be).
fn without_top_via(response: &Message) -> Option<Message> {
    let mut edit = response.edit();
    edit.pop_via()?;
    match edit.finish() {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::info!(error = %e, "response cannot be forwarded");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const TIMER_C: Duration = Duration::from_secs(120);
    const CANCEL_WAIT: Duration = Duration::from_secs(32);

    fn config(invite: bool) -> ContextConfig {
        ContextConfig {
            invite,
            timer_c: TIMER_C,
            cancel_wait: CANCEL_WAIT,
        }
    }

    fn response(code: u16) -> Message {
        response_with(code, "")
    }

    fn response_with(code: u16, extra: &str) -> Message {
        Message::parse(format!(
            "SIP/2.0 {code} Whatever\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKproxy\r\n\
Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKcaller\r\nFrom: <sip:a@x>;tag=1\r\n\
To: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        ))
        .unwrap()
    }

    fn started(actions: &[Action]) -> Vec<usize> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Start { target, .. } => Some(*target),
                _ => None,
            })
            .collect()
    }

    fn cancels(actions: &[Action]) -> Vec<usize> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Cancel(b) => Some(b.0),
                _ => None,
            })
            .collect()
    }

    fn forwarded(actions: &[Action]) -> Vec<u16> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Forward(m) => Some(m.status().unwrap()),
                _ => None,
            })
            .collect()
    }

    fn replied(actions: &[Action]) -> Option<u16> {
        actions.iter().find_map(|a| match a {
            Action::Reply { code, .. } => Some(*code),
            _ => None,
        })
    }

    #[test]
    fn equal_q_in_parallel_lower_q_after_failure() {
        let now = Instant::now();
        // Targets 0 and 2 at q=1.0, 1 at q=0.5, 3 at q=0.1.
        let (mut ctx, a) = ResponseContext::new(
            config(true),
            &[(1000, 1), (500, 1), (1000, 1), (100, 1)],
            now,
        );
        assert_eq!(started(&a), [0, 2]);
        let a = ctx.on_response(now, BranchId(0), response(486));
        assert!(a.is_empty(), "{a:?}");
        let a = ctx.on_response(now, BranchId(1), response(404));
        assert_eq!(started(&a), [1], "the q=0.5 group after both q=1.0 failed");
        let a = ctx.on_response(now, BranchId(2), response(480));
        assert_eq!(started(&a), [3]);
        let a = ctx.on_response(now, BranchId(3), response(603));
        assert_eq!(forwarded(&a), [603], "6xx wins");
        assert!(ctx.is_finished());
    }

    #[test]
    fn first_2xx_wins_and_cancels_the_others() {
        let now = Instant::now();
        let (mut ctx, a) =
            ResponseContext::new(config(true), &[(1000, 1), (1000, 1), (1000, 1)], now);
        assert_eq!(started(&a), [0, 1, 2]);
        assert_eq!(
            forwarded(&ctx.on_response(now, BranchId(0), response(180))),
            [180]
        );
        assert!(ctx.on_response(now, BranchId(1), response(100)).is_empty());
        let a = ctx.on_response(now, BranchId(2), response(200));
        assert_eq!(forwarded(&a), [200]);
        assert_eq!(
            cancels(&a),
            [0, 1],
            "branches with a provisional are cancelled"
        );
        assert!(!ctx.is_finished());
        assert!(ctx.on_response(now, BranchId(0), response(487)).is_empty());
        assert!(ctx.on_response(now, BranchId(1), response(487)).is_empty());
        assert!(ctx.is_finished());
    }

    #[test]
    fn a_second_2xx_is_forwarded_too() {
        let now = Instant::now();
        let (mut ctx, _) = ResponseContext::new(config(true), &[(1000, 1), (1000, 1)], now);
        ctx.on_response(now, BranchId(0), response(180));
        ctx.on_response(now, BranchId(1), response(180));
        let a = ctx.on_response(now, BranchId(0), response(200));
        assert_eq!(cancels(&a), [1]);
        // 200 crossing the CANCEL (§16.7 step 5): still goes upstream.
        let a = ctx.on_response(now, BranchId(1), response(200));
        assert_eq!(forwarded(&a), [200]);
        assert!(ctx.is_finished());
    }

    #[test]
    fn provisional_responses_after_the_final_are_not_forwarded() {
        let now = Instant::now();
        let (mut ctx, _) = ResponseContext::new(config(true), &[(1000, 1), (1000, 1)], now);
        ctx.on_response(now, BranchId(1), response(180));
        ctx.on_response(now, BranchId(0), response(200));
        assert!(forwarded(&ctx.on_response(now, BranchId(1), response(183))).is_empty());
    }

    #[test]
    fn upstream_cancel_before_any_provisional() {
        let now = Instant::now();
        let (mut ctx, _) = ResponseContext::new(config(true), &[(1000, 1)], now);
        // CANCEL before 1xx: nothing may be sent downstream yet (§9.1); the branch is
        // answered 487 locally and the caller gets it at once.
        let a = ctx.cancel(now);
        assert!(cancels(&a).is_empty());
        assert_eq!(replied(&a), Some(487));
        assert!(ctx.final_sent());
        // The callee's 180 arrives later: now the CANCEL goes out.
        let a = ctx.on_response(now, BranchId(0), response(180));
        assert_eq!(cancels(&a), [0]);
        assert!(forwarded(&a).is_empty());
    }

    #[test]
    fn upstream_cancel_after_provisional_waits_for_487() {
        let now = Instant::now();
        let (mut ctx, _) = ResponseContext::new(config(true), &[(1000, 1), (500, 1)], now);
        ctx.on_response(now, BranchId(0), response(183));
        let a = ctx.cancel(now);
        assert_eq!(cancels(&a), [0]);
        assert!(replied(&a).is_none());
        let a = ctx.on_response(now, BranchId(0), response(487));
        assert_eq!(forwarded(&a), [487], "no serial branch after a CANCEL");
        assert_eq!(ctx.branch_count(), 1);
    }

    #[test]
    fn two_hundred_crossing_the_cancel_is_forwarded() {
        let now = Instant::now();
        let (mut ctx, _) = ResponseContext::new(config(true), &[(1000, 1)], now);
        ctx.on_response(now, BranchId(0), response(180));
        assert_eq!(cancels(&ctx.cancel(now)), [0]);
        let a = ctx.on_response(now, BranchId(0), response(200));
        assert_eq!(forwarded(&a), [200]);
        assert!(ctx.is_finished());
    }

    #[test]
    fn timer_c_cancels_a_ringing_branch_and_answers_408_for_a_silent_one() {
        let start = Instant::now();
        let (mut ctx, _) = ResponseContext::new(config(true), &[(1000, 1), (1000, 1)], start);
        assert_eq!(ctx.poll_timeout(), Some(start + TIMER_C));
        let later = start + Duration::from_secs(100);
        ctx.on_response(later, BranchId(0), response(180));
        // Branch 1 never answers: Timer C fires at 120 s for it, not yet for branch 0
        // (restarted by its 180).
        let at = start + TIMER_C;
        let a = ctx.handle_timeout(at);
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(ctx.poll_timeout(), Some(later + TIMER_C));
        let a = ctx.handle_timeout(later + TIMER_C);
        assert_eq!(cancels(&a), [0]);
        let a = ctx.on_response(later + TIMER_C, BranchId(0), response(487));
        // Both ended by Timer C: the caller learns 408, not 487.
        assert_eq!(replied(&a), Some(408));
    }

    #[test]
    fn an_unanswered_cancel_ends_the_branch_after_64_t1() {
        let now = Instant::now();
        let (mut ctx, _) = ResponseContext::new(config(true), &[(1000, 1)], now);
        ctx.on_response(now, BranchId(0), response(180));
        ctx.cancel(now);
        let a = ctx.handle_timeout(now + CANCEL_WAIT);
        assert_eq!(replied(&a), Some(487));
        assert!(ctx.is_finished());
    }

    #[test]
    fn best_response_selection() {
        let now = Instant::now();
        let pick = |codes: &[u16]| {
            let targets = vec![(1000, 1); codes.len()];
            let (mut ctx, _) = ResponseContext::new(config(false), &targets, now);
            let mut last = Vec::new();
            for (i, code) in codes.iter().enumerate() {
                last = ctx.on_response(now, BranchId(i), response(*code));
            }
            replied(&last)
                .or_else(|| forwarded(&last).first().copied())
                .unwrap()
        };
        assert_eq!(pick(&[486, 404, 500]), 404);
        assert_eq!(pick(&[486, 407, 404]), 407);
        assert_eq!(pick(&[503]), 500, "503 is not passed upstream");
        assert_eq!(pick(&[302, 486]), 302);
        assert_eq!(pick(&[486, 480]), 480);
    }

    #[test]
    fn challenges_of_every_branch_are_gathered() {
        let now = Instant::now();
        let (mut ctx, _) = ResponseContext::new(config(false), &[(1000, 1), (1000, 1)], now);
        ctx.on_response(
            now,
            BranchId(0),
            response_with(407, "Proxy-Authenticate: Digest realm=\"a\"\r\n"),
        );
        let a = ctx.on_response(
            now,
            BranchId(1),
            response_with(401, "WWW-Authenticate: Digest realm=\"b\"\r\n"),
        );
        let Some(Action::Forward(m)) = a.first() else {
            panic!("{a:?}")
        };
        assert_eq!(
            m.www_authenticate().count() + m.proxy_authenticate().count(),
            2
        );
    }

    #[test]
    fn branch_timeouts_count_as_408_and_failover_to_the_next_group() {
        let now = Instant::now();
        let (mut ctx, _) = ResponseContext::new(config(false), &[(1000, 1), (0, 1)], now);
        let a = ctx.on_branch_failed(now, BranchId(0), 408);
        assert_eq!(started(&a), [1]);
        let a = ctx.on_branch_failed(now, BranchId(1), 503);
        assert_eq!(replied(&a), Some(408), "408 ranks before 503");
    }

    #[test]
    fn a_silent_or_503_next_hop_fails_over_to_the_target_s_next_one() {
        let now = Instant::now();
        // Target 0 has three next hops (SRV records), target 1 one.
        let (mut ctx, a) = ResponseContext::new(config(false), &[(1000, 3), (1000, 1)], now);
        assert_eq!(started(&a), [0, 1]);
        let a = ctx.on_branch_failed(now, BranchId(0), 408);
        assert!(
            matches!(
                a[..],
                [Action::Start {
                    target: 0,
                    hop: 1,
                    ..
                }]
            ),
            "{a:?}"
        );
        let a = ctx.on_response(now, BranchId(2), response(503));
        assert!(
            matches!(
                a[..],
                [Action::Start {
                    target: 0,
                    hop: 2,
                    ..
                }]
            ),
            "{a:?}"
        );
        // A 404 is an answer, not a failure: no failover.
        let (mut ctx, _) = ResponseContext::new(config(false), &[(1000, 2)], now);
        let a = ctx.on_response(now, BranchId(0), response(404));
        assert_eq!(forwarded(&a), [404]);
    }

    #[test]
    fn busy_forwards_to_the_busy_target() {
        let now = Instant::now();
        let fallbacks = Fallbacks {
            busy: vec![1],
            no_answer: vec![2],
            no_answer_after: None,
            end_on_no_answer: false,
        };
        let targets = [(1000, 1), (1000, 1), (1000, 1)];
        let (mut ctx, a) = ResponseContext::with_fallbacks(config(true), &targets, fallbacks, now);
        assert_eq!(started(&a), [0], "fallbacks wait");
        let a = ctx.on_response(now, BranchId(0), response(486));
        assert_eq!(started(&a), [1], "busy: the busy target");
        let a = ctx.on_response(now, BranchId(1), response(200));
        assert_eq!(forwarded(&a), [200]);
    }

    #[test]
    fn no_answer_in_time_cancels_the_phones_and_forwards() {
        let now = Instant::now();
        let fallbacks = Fallbacks {
            busy: Vec::new(),
            no_answer: vec![1],
            no_answer_after: Some(Duration::from_secs(20)),
            end_on_no_answer: false,
        };
        let (mut ctx, a) =
            ResponseContext::with_fallbacks(config(true), &[(1000, 1), (1000, 1)], fallbacks, now);
        assert_eq!(started(&a), [0]);
        ctx.on_response(now, BranchId(0), response(180));
        assert_eq!(ctx.poll_timeout(), Some(now + Duration::from_secs(20)));
        let a = ctx.handle_timeout(now + Duration::from_secs(20));
        assert_eq!(cancels(&a), [0]);
        assert_eq!(started(&a), [1]);
        // The cancelled phone's 487 is not the caller's business.
        assert!(ctx.on_response(now, BranchId(0), response(487)).is_empty());
        let a = ctx.on_response(now, BranchId(1), response(200));
        assert_eq!(forwarded(&a), [200]);
        assert!(ctx.is_finished());
    }

    #[test]
    fn no_answer_in_time_without_a_target_fails_with_408() {
        let now = Instant::now();
        let fallbacks = Fallbacks {
            no_answer_after: Some(Duration::from_secs(20)),
            end_on_no_answer: true,
            ..Fallbacks::default()
        };
        // One phone rings, one never answers at all.
        let (mut ctx, a) =
            ResponseContext::with_fallbacks(config(true), &[(1000, 1), (1000, 1)], fallbacks, now);
        assert_eq!(started(&a), [0, 1]);
        ctx.on_response(now, BranchId(0), response(180));
        assert_eq!(ctx.poll_timeout(), Some(now + Duration::from_secs(20)));
        let a = ctx.handle_timeout(now + Duration::from_secs(20));
        assert_eq!(cancels(&a), [0]);
        assert!(started(&a).is_empty());
        let a = ctx.on_response(now, BranchId(0), response(487));
        assert!(
            a.iter()
                .any(|a| matches!(a, Action::Reply { code: 408, .. })),
            "{a:?}"
        );
        // Without end_on_no_answer there is no such deadline.
        let (ctx, _) = ResponseContext::with_fallbacks(
            config(true),
            &[(1000, 1)],
            Fallbacks {
                no_answer_after: Some(Duration::from_secs(20)),
                ..Fallbacks::default()
            },
            now,
        );
        assert_ne!(ctx.poll_timeout(), Some(now + Duration::from_secs(20)));
    }

    #[test]
    fn unavailable_forwards_to_the_no_answer_target_and_busy_only_once() {
        let now = Instant::now();
        let fallbacks = Fallbacks {
            busy: vec![2],
            no_answer: vec![1],
            no_answer_after: None,
            end_on_no_answer: false,
        };
        let targets = [(1000, 1), (1000, 1), (1000, 1)];
        let (mut ctx, _) = ResponseContext::with_fallbacks(config(true), &targets, fallbacks, now);
        let a = ctx.on_branch_failed(now, BranchId(0), 408);
        assert_eq!(started(&a), [1]);
        let a = ctx.on_response(now, BranchId(1), response(486));
        assert_eq!(
            started(&a),
            [2],
            "then busy at the forward target: the busy target"
        );
        let a = ctx.on_response(now, BranchId(2), response(486));
        assert_eq!(forwarded(&a), [486], "each forwarding once");
    }

    #[test]
    fn forwarded_responses_lose_the_proxy_via() {
        let now = Instant::now();
        let (mut ctx, _) = ResponseContext::new(config(true), &[(1000, 1)], now);
        let a = ctx.on_response(now, BranchId(0), response(180));
        let Some(Action::Forward(m)) = a.first() else {
            panic!()
        };
        assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bKcaller"));
        assert_eq!(m.vias().count(), 1);
    }
}
