//! Putting a policy in force (A7, A12): rollout, fees and processing time as data, checked
//! against the legal maxima ([`crate::policy::Policy::check`]).

use crate::engine::{Command, Ctx, EngineError};
use crate::model::{Event, PolicySet, State};
use crate::policy::Policy;
use crate::station::CommandKind;

/// Put a new policy in force. A county bureau officer; recorded like every change.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SetPolicy(pub Policy);

impl Command for SetPolicy {
    const KIND: CommandKind = CommandKind::SetPolicy;
    type Decided = ();
    type Output = ();

    fn decide(&self, ctx: &Ctx<'_>) -> Result<(Vec<Event>, ()), EngineError> {
        self.0
            .check()
            .map_err(|m| ctx.refuse("invalid_policy", m))?;
        let policy_json = serde_json::to_string(&self.0).expect("a policy encodes as JSON");
        Ok((vec![Event::PolicySet(PolicySet { policy_json })], ()))
    }

    fn finish(_: (), _: u64, _: &State) {}
}
