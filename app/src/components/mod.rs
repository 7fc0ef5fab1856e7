pub mod empty_state;
pub mod layout;
