pub mod chart;
pub mod empty_state;
pub mod layout;
pub mod queue_link;
