mod lists;
mod not_found;
mod overview;
mod placeholders;

pub use lists::{Queues, Tasks};
pub use not_found::NotFound;
pub use overview::Overview;
pub use placeholders::Workers;
