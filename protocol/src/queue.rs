//! The queue page: one queue's live facts, its consumers, its parameters and a chart series.

use crate::heartbeat::Consumer;
use crate::overview::QueueRow;
use crate::series::Series;
use serde::{Deserialize, Serialize};

/// Everything the queue page shows about one queue, computed at `now`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueuePage {
    /// When it was computed, epoch seconds.
    pub now: f64,
    /// The queue's overview row (zeros when nothing knows the queue).
    pub row: QueueRow,
    /// Whether the store or the broker knows the queue at all.
    pub known: bool,
    /// funboost's broker kind from the consumer parameters (`REDIS_ACK_ABLE`, …).
    pub broker_kind: Option<String>,
    /// The consumer parameters last registered for the queue (funboost's
    /// `funboost_queue__consumer_parmas`), as JSON text.
    pub params: Option<String>,
    /// The queue's consumers heard from recently, alive first.
    pub consumers: Vec<Consumer>,
    /// Finished tasks and latencies over the grain's usual window, ending now.
    pub series: Series,
    /// Why broker facts (backlog, parameters, pause) are missing, when they are.
    pub broker_error: Option<String>,
    /// The latest pause or resume of the queue, with how far it got.
    pub control: Option<crate::control::Command>,
    /// What its broker kind allows on the waiting messages.
    #[serde(default)]
    pub abilities: Abilities,
    /// The consuming function's arguments, as its consumers registered them (funboost's
    /// `auto_generate_info.final_func_input_params_info`); `None` when unknown.
    #[serde(default)]
    pub signature: Option<Signature>,
    /// Messages funboost dead-lettered from the queue (`<queue>_dlx`), where they can be read.
    #[serde(default)]
    pub dead_letters: Option<u64>,
}

/// A consuming function's keyword arguments.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Signature {
    /// The function's name.
    pub function: Option<String>,
    /// Arguments every message must give.
    pub required: Vec<String>,
    /// Arguments with a default.
    pub optional: Vec<String>,
}

impl Signature {
    /// The signature in funboost's consumer parameters, when they carry one.
    pub fn of_params(params: &serde_json::Value) -> Option<Signature> {
        let info = params.pointer("/auto_generate_info/final_func_input_params_info")?;
        let names = |k: &str| -> Option<Vec<String>> {
            Some(
                info.get(k)?
                    .as_array()?
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            )
        };
        Some(Signature {
            function: info
                .get("func_name")
                .and_then(|f| f.as_str())
                .map(str::to_owned),
            required: names("must_arg_name_list")?,
            optional: names("optional_arg_name_list").unwrap_or_default(),
        })
    }

    /// Why `params` would not be accepted (funboost's own check: every required argument
    /// given, nothing it does not take), if they would not.
    pub fn check(&self, params: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        let missing: Vec<&str> = self
            .required
            .iter()
            .filter(|a| !params.contains_key(a.as_str()))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "missing required argument(s): {}",
                missing.join(", ")
            ));
        }
        let unknown: Vec<&str> = params
            .keys()
            .filter(|k| !self.required.contains(k) && !self.optional.contains(k))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "the function takes no argument(s) named {}",
                unknown.join(", ")
            ));
        }
        Ok(())
    }
}

/// What a queue's broker kind allows on its waiting messages: `None` where it does, otherwise
/// why not (the page offers the control disabled, with the reason). Pause, resume, kill and
/// revoke go through funboost's own keys and work for every kind.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Abilities {
    /// Browse the waiting messages and delete one.
    pub browse: Option<String>,
    /// Move a waiting message to the front or to another priority.
    pub reorder: Option<String>,
    /// Remove every waiting message.
    pub clear: Option<String>,
    /// Put back what stopped consumers held.
    pub requeue: Option<String>,
    /// Publish a message (a new task, a retry, a re-drive).
    #[serde(default)]
    pub publish: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_signature_is_read_from_funboost_params_and_checks_like_funboost() {
        let params = json!({"auto_generate_info": {"final_func_input_params_info": {
            "func_name": "add", "all_arg_name_list": ["x", "y"],
            "must_arg_name_list": ["x"], "optional_arg_name_list": ["y"]
        }}});
        let sig = Signature::of_params(&params).unwrap();
        assert_eq!(
            (
                sig.function.as_deref(),
                &sig.required[..],
                &sig.optional[..]
            ),
            (Some("add"), &["x".to_owned()][..], &["y".to_owned()][..])
        );
        let args = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert!(sig.check(&args(json!({"x": 1}))).is_ok());
        assert!(sig.check(&args(json!({"x": 1, "y": [2]}))).is_ok());
        assert!(sig
            .check(&args(json!({"y": 2})))
            .unwrap_err()
            .contains("missing required argument(s): x"));
        assert!(sig
            .check(&args(json!({"x": 1, "z": 2})))
            .unwrap_err()
            .contains("named z"));
        assert_eq!(Signature::of_params(&json!({"broker_kind": "REDIS"})), None);
    }
}
