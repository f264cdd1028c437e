//! [`PlanSet`] and [`Assignments`]: which plan rates whose calls — per subscriber, else per
//! domain, else a default; each assignment from an activation time on (CGRateS
//! `RatingProfiles.csv`: `#Tenant,Category,Subject,ActivationTime,RatingPlanId,
//! RatesFallbackSubject`, where Tenant is the domain and Subject the user or `*any`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::clock::UnixTime;
use crate::error::Error;
use crate::plan::RatingPlan;
use crate::rating::Rating;

/// Whose calls an assignment covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// One subscriber: user part and domain.
    Subscriber {
        /// The user part.
        user: String,
        /// The domain.
        domain: String,
    },
    /// Every subscriber of a domain without one of their own.
    Domain(String),
    /// Everyone else.
    Default,
}

/// Plan names by scope and activation time.
#[derive(Debug, Clone, Default)]
pub struct Assignments {
    /// Per scope: (activation, plan, fallback subjects), by activation.
    by_scope: HashMap<Scope, Vec<Assignment>>,
}

/// One assignment of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// From when on (Unix seconds).
    pub activation: UnixTime,
    /// The plan's name.
    pub plan: String,
    /// Users of the same domain whose plans are tried, in order, when this plan has no
    /// destination for a number (CGRateS `RatesFallbackSubject`).
    pub fallbacks: Vec<String>,
}

impl Assignments {
    /// No assignment.
    pub fn new() -> Assignments {
        Assignments::default()
    }

    /// Assigns `plan` to `scope` from `activation` on; a later activation takes over then.
    pub fn assign(&mut self, scope: Scope, activation: UnixTime, plan: &str, fallbacks: &[&str]) {
        let list = self.by_scope.entry(scope).or_default();
        let a = Assignment {
            activation,
            plan: plan.to_owned(),
            fallbacks: fallbacks.iter().map(|s| (*s).to_owned()).collect(),
        };
        let at = list.partition_point(|x| x.activation <= activation);
        list.insert(at, a);
    }

    /// The assignment in force at `at` for exactly this scope.
    pub fn get(&self, scope: &Scope, at: UnixTime) -> Option<&Assignment> {
        let list = self.by_scope.get(scope)?;
        let i = list.partition_point(|x| x.activation <= at);
        list.get(i.checked_sub(1)?)
    }

    /// The assignment in force at `at` for a subscriber: their own, else their domain's,
    /// else the default; with the scope it came from.
    pub fn lookup(&self, user: &str, domain: &str, at: UnixTime) -> Option<(Scope, &Assignment)> {
        let scopes = [
            Scope::Subscriber {
                user: user.to_owned(),
                domain: domain.to_owned(),
            },
            Scope::Domain(domain.to_owned()),
            Scope::Default,
        ];
        scopes
            .into_iter()
            .find_map(|s| self.get(&s, at).map(|a| (s, a)))
    }

    /// Every scope with its assignments, by activation.
    pub fn iter(&self) -> impl Iterator<Item = (&Scope, &[Assignment])> {
        self.by_scope.iter().map(|(s, l)| (s, l.as_slice()))
    }
}

/// Plans by name and who uses which: what an import produces and rating reads.
#[derive(Debug, Clone, Default)]
pub struct PlanSet {
    plans: HashMap<String, Arc<RatingPlan>>,
    /// Who is rated by which plan.
    pub assignments: Assignments,
}

impl PlanSet {
    /// No plan.
    pub fn new() -> PlanSet {
        PlanSet::default()
    }

    /// Adds or replaces a plan.
    pub fn insert(&mut self, plan: RatingPlan) {
        self.plans.insert(plan.name().to_owned(), Arc::new(plan));
    }

    /// A plan by name.
    pub fn plan(&self, name: &str) -> Result<&Arc<RatingPlan>, Error> {
        self.plans
            .get(name)
            .ok_or_else(|| Error::UnknownPlan(name.to_owned()))
    }

    /// Every plan, in name order.
    pub fn plans(&self) -> Vec<&Arc<RatingPlan>> {
        let mut v: Vec<_> = self.plans.values().collect();
        v.sort_by(|a, b| a.name().cmp(b.name()));
        v
    }

    /// The plan rating `user@domain`'s calls at `at`.
    pub fn plan_for(
        &self,
        user: &str,
        domain: &str,
        at: UnixTime,
    ) -> Result<&Arc<RatingPlan>, Error> {
        let (_, a) =
            self.assignments
                .lookup(user, domain, at)
                .ok_or_else(|| Error::NoPlanAssigned {
                    user: user.to_owned(),
                    domain: domain.to_owned(),
                })?;
        self.plan(&a.plan)
    }

    /// Rates a call of `user@domain`: the assigned plan, then its fallback subjects' plans
    /// (CGRateS `RatesFallbackSubject`) when it has no destination for the number.
    pub fn rate<'a>(
        &'a self,
        user: &str,
        domain: &str,
        number: &'a str,
        start: UnixTime,
        duration: u32,
    ) -> Result<Rating<'a>, Error> {
        let (_, a) = self
            .assignments
            .lookup(user, domain, start)
            .ok_or_else(|| Error::NoPlanAssigned {
                user: user.to_owned(),
                domain: domain.to_owned(),
            })?;
        let first = self.plan(&a.plan)?.rate(number, start, duration);
        if !matches!(first, Err(Error::NoDestination { .. })) {
            return first;
        }
        for fallback in &a.fallbacks {
            let scope = Scope::Subscriber {
                user: fallback.clone(),
                domain: domain.to_owned(),
            };
            if let Some(fa) = self.assignments.get(&scope, start) {
                match self.plan(&fa.plan)?.rate(number, start, duration) {
                    Err(Error::NoDestination { .. }) => continue,
                    other => return other,
                }
            }
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriber_then_domain_then_default() {
        let mut a = Assignments::new();
        a.assign(Scope::Default, 0, "basic", &[]);
        a.assign(Scope::Domain("example.com".into()), 100, "company", &[]);
        let alice = Scope::Subscriber {
            user: "alice".into(),
            domain: "example.com".into(),
        };
        a.assign(alice.clone(), 200, "vip", &[]);
        a.assign(alice.clone(), 300, "vip2", &["bob"]);
        let plan = |u: &str, d: &str, t| a.lookup(u, d, t).map(|(_, x)| x.plan.clone());
        assert_eq!(plan("alice", "example.com", 50).as_deref(), Some("basic"));
        assert_eq!(
            plan("alice", "example.com", 150).as_deref(),
            Some("company")
        );
        assert_eq!(plan("alice", "example.com", 200).as_deref(), Some("vip"));
        assert_eq!(plan("alice", "example.com", 1000).as_deref(), Some("vip2"));
        assert_eq!(
            plan("carol", "example.com", 1000).as_deref(),
            Some("company")
        );
        assert_eq!(plan("alice", "example.org", 1000).as_deref(), Some("basic"));
        assert_eq!(
            a.lookup("alice", "example.com", 1000).map(|x| x.0),
            Some(alice.clone())
        );
        assert_eq!(
            a.get(&alice, 1000).map(|x| x.fallbacks.clone()),
            Some(vec!["bob".to_owned()])
        );
        let set = PlanSet::new();
        assert!(matches!(
            set.plan_for("x", "y", 0),
            Err(Error::NoPlanAssigned { .. })
        ));
        assert!(matches!(set.plan("nope"), Err(Error::UnknownPlan(_))));
    }
}
