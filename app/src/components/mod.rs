pub mod chart;
pub mod control;
pub mod empty_state;
pub mod json_view;
pub mod layout;
pub mod links;
pub mod pick;
pub mod sparkline;
