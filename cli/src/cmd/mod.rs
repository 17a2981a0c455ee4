//! The command line's handlers, one module per area (argument types: [`crate::args`]). Each is
//! a thin adapter: parse the arguments into the library's request, run it through
//! [`crate::output::command`], print a view.

pub mod blacklist;
pub mod found;
pub mod id;
pub mod journal;
pub mod key;
pub mod loss;
pub mod offsite;
pub mod policy;
pub mod publish;
pub mod record;
pub mod serve;
pub mod snapshot;
pub mod subscriber;
pub mod temporary;

use idcard::CardKey;
use idcard::engine::Engine;

use crate::args::CardArg;

/// The card an argument names; without `--valid-from`, the holder's newest card.
pub fn card_key(arg: &CardArg, engine: &Engine) -> anyhow::Result<CardKey> {
    let r = arg.card_ref()?;
    match r.valid_from {
        Some(d) => Ok(CardKey::new(r.number, d)?),
        None => engine
            .with_state(|s| s.cards.current(r.number))?
            .map(|c| c.key)
            .ok_or_else(|| {
                anyhow::anyhow!("no card of {} is registered; give --valid-from", r.number)
            }),
    }
}
