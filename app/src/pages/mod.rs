mod not_found;
mod overview;
mod placeholders;

pub use not_found::NotFound;
pub use overview::Overview;
pub use placeholders::{Queues, Tasks, Workers};
