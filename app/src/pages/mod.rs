mod lists;
mod not_found;
mod overview;
mod workers;

pub use lists::{Queues, Tasks};
pub use not_found::NotFound;
pub use overview::Overview;
pub use workers::Workers;
